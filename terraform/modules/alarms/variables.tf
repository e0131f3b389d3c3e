variable "stream_name" {
  description = "Delivery stream the alarms watch."
  type        = string
}

variable "buffering_interval_seconds" {
  description = "The stream's buffer interval; the freshness alarm fires above twice this."
  type        = number
}

variable "period_seconds" {
  description = "Period over which each metric is aggregated."
  type        = number
  default     = 300
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm goes to ALARM and back to OK (envs/prod: the alerts SNS topic of modules/alerts); empty means the alarms are only visible in CloudWatch."
  type        = list(string)
  default     = []
}

variable "name_prefix" {
  description = "Prefix of the heartbeat and export alarms' names (<prefix>-dagster-heartbeat, <prefix>-daily-csv-export)."
  type        = string
}

variable "ui_url" {
  description = "The Dagster UI's base URL, for the pages the heartbeat and export alarms' descriptions point to."
  type        = string
}

variable "daemon_log_group" {
  description = "The log group of the Dagster daemon (standard) or of the one task (small), named in the heartbeat alarm's description."
  type        = string
}

variable "run_log_group" {
  description = "The log group of the runs (standard: the run tasks; small: the one task), named in the export alarm's description."
  type        = string
}
