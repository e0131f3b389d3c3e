variable "topic_name" {
  description = "Name of the alerts SNS topic (and of its KMS key's alias)."
  type        = string
}

variable "email_addresses" {
  description = "Operators' e-mail addresses subscribed to the topic; each confirms by the link AWS sends."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "email_addresses must be e-mail addresses (name@example.com)."
  }
}
