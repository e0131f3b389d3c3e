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
