# What watches the watcher. Every alert of health-pipeline comes from alerts_sensor inside the
# operators' Dagster; when that Dagster stops (the task stuck, the daemon hung, the database
# unreachable, the schedule turned off, a deploy that broke the code location) the sensor cannot say
# so. These two alarms can: each completed tick of alerts_sensor publishes a heartbeat data point, and
# daily_summary_csv publishes the age of each day it exports (health_pipeline/alerts/liveness.py),
# and the alarms fire on the data that stops coming (treat_missing_data = "breaching").

locals {
  # The alarms' windows: `health-pipeline alerts status` (local mode) reads these two locals from this
  # file, so the local check and the alarms use one source.
  heartbeat_window_minutes = 15
  # The schedule runs at 01:00 for the day before and the CSV is due at 03:00 (the asset's deadline):
  # 24 h between two exports, plus the 2 h to the deadline, plus 1 h margin.
  export_window_hours = 27

  # The names health_pipeline/alerts/liveness.py publishes under (the Dagster role may PutMetricData
  # in this namespace only: modules/iam).
  metric_namespace = "health-pipeline"
  code_location    = "health_pipeline"
  watch_dimensions = {
    CodeLocation = local.code_location
  }
}

# CloudWatch evaluates a 1-minute period alarm every minute; 15 breaching periods of 15 (a period with
# no heartbeat is breaching) is 15 minutes without one tick of alerts_sensor completing.
resource "aws_cloudwatch_metric_alarm" "heartbeat" {
  alarm_name = "${var.name_prefix}-dagster-heartbeat"
  # What stopped, where to look, how to recover, how to silence it (at most 1,024 characters).
  alarm_description = "STOPPED: alerts_sensor of the Dagster code location ${local.code_location} has published no heartbeat for ${local.heartbeat_window_minutes} minutes, so no alert of health-pipeline can be sent (the daemon, the code server, the database or the task is down, or the sensor is off). LOOK: the daemon's log (aws logs tail ${var.daemon_log_group} --since 1h), the daemons' heartbeats in the UI at ${var.ui_url}/deployment/daemons, the sensor's ticks at ${var.ui_url}/locations/${local.code_location}/sensors/alerts_sensor. RECOVER: docs/operations/deploying.md, 'When the operators' Dagster stops'. SILENCE for planned maintenance: aws cloudwatch disable-alarm-actions --alarm-names ${var.name_prefix}-dagster-heartbeat (then enable-alarm-actions)."
  namespace         = local.metric_namespace
  metric_name       = "AlertsSensorHeartbeat"
  dimensions        = local.watch_dimensions
  statistic         = "SampleCount"
  period            = 60

  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = local.heartbeat_window_minutes
  datapoints_to_alarm = local.heartbeat_window_minutes
  # No data point is the very failure this alarm is for.
  treat_missing_data = "breaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
}

# The metric's value is the exported day's age in the partition time zone (1: yesterday's CSV); a
# backfill of older days does not count. Hourly periods: a range above one day needs a period of at
# least one hour (CloudWatch API Reference, PutMetricAlarm: "Period multiplied by EvaluationPeriods
# can't be more than 604,800 seconds. For alarms with a period of less than one hour (3,600 seconds),
# the total evaluation period can't be longer than one day").
resource "aws_cloudwatch_metric_alarm" "export" {
  alarm_name        = "${var.name_prefix}-daily-csv-export"
  alarm_description = "STOPPED: daily_summary_csv has exported no CSV of yesterday (or later) for ${local.export_window_hours} hours, past the 03:00 deadline of daily_summary_schedule's export. LOOK: the asset's runs at ${var.ui_url}/assets/daily_summary_csv (a failed run was told by alerts_sensor; no run at all: the schedule is off or Dagster stopped, is the heartbeat alarm firing too?), the runs' log (aws logs tail ${var.run_log_group} --since 1d), the export_metric field of the last materialization. RECOVER: docs/operations/deploying.md, 'When the operators' Dagster stops', then materialize the missing days. SILENCE for planned maintenance: aws cloudwatch disable-alarm-actions --alarm-names ${var.name_prefix}-daily-csv-export (then enable-alarm-actions)."
  namespace         = local.metric_namespace
  metric_name       = "DailyCsvExportedDayAge"
  dimensions        = local.watch_dimensions
  statistic         = "Minimum"
  period            = 3600

  comparison_operator = "GreaterThanThreshold"
  threshold           = 1
  evaluation_periods  = local.export_window_hours
  datapoints_to_alarm = local.export_window_hours
  treat_missing_data  = "breaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
}
