output "alarm_arns" {
  description = "ARNs of the failed-rows and data-freshness alarms."
  value = [
    aws_cloudwatch_metric_alarm.failed_rows.arn,
    aws_cloudwatch_metric_alarm.data_freshness.arn,
  ]
}

output "watch_alarm_names" {
  description = "Names of the heartbeat and export alarms (for aws cloudwatch disable-alarm-actions during planned maintenance)."
  value = [
    aws_cloudwatch_metric_alarm.heartbeat.alarm_name,
    aws_cloudwatch_metric_alarm.export.alarm_name,
  ]
}

output "metric_namespace" {
  description = "The CloudWatch namespace health-pipeline publishes its heartbeat and export metrics in (the Dagster role's cloudwatch:PutMetricData is limited to it)."
  value       = local.metric_namespace
}
