output "alarm_arns" {
  description = "ARNs of the failed-rows and data-freshness alarms."
  value = [
    aws_cloudwatch_metric_alarm.failed_rows.arn,
    aws_cloudwatch_metric_alarm.data_freshness.arn,
  ]
}
