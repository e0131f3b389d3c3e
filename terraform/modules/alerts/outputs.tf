output "topic_arn" {
  description = "ARN of the alerts topic: HEALTH_PIPELINE_ALERT_TOPIC_ARN, and the alarms' actions."
  value       = aws_sns_topic.alerts.arn
}

output "key_arn" {
  description = "ARN of the topic's KMS key (publishers need kms:GenerateDataKey and kms:Decrypt on it)."
  value       = aws_kms_key.alerts.arn
}

output "subscribed_email_addresses" {
  description = "Addresses subscribed (each pending until its owner confirms)."
  value       = sort(keys(aws_sns_topic_subscription.email))
}
