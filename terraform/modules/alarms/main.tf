# Alarms on the delivery stream: any row Firehose could not write to the table, and data that
# waits in Firehose longer than twice the buffer interval (a delivery that should have happened
# did not: the table refuses commits, permissions broke, or the stream is throttled).

locals {
  dimensions = {
    DeliveryStreamName = var.stream_name
  }
}

resource "aws_cloudwatch_metric_alarm" "failed_rows" {
  alarm_name        = "${var.stream_name}-iceberg-failed-rows"
  alarm_description = "Firehose ${var.stream_name} failed to write rows to the Iceberg table; they are in the error output. Read the newest objects there (health-pipeline's firehose_delivery check lists them)."
  namespace         = "AWS/Firehose"
  metric_name       = "DeliveryToIceberg.FailedRowCount"
  dimensions        = local.dimensions
  statistic         = "Sum"
  period            = var.period_seconds

  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  # No datapoint means no delivery attempt, hence no failure.
  treat_missing_data = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "data_freshness" {
  alarm_name        = "${var.stream_name}-iceberg-data-freshness"
  alarm_description = "The oldest record in Firehose ${var.stream_name} has waited more than twice the ${var.buffering_interval_seconds} s buffer interval: deliveries to the Iceberg table are stalled. Check the stream's CloudWatch logs and the error output."
  namespace         = "AWS/Firehose"
  metric_name       = "DeliveryToIceberg.DataFreshness"
  dimensions        = local.dimensions
  statistic         = "Maximum"
  period            = var.period_seconds

  comparison_operator = "GreaterThanThreshold"
  threshold           = 2 * var.buffering_interval_seconds
  evaluation_periods  = 1
  # Firehose publishes freshness only while it holds records: an idle stream is not stale.
  treat_missing_data = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
}
