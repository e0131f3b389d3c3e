# Where health-pipeline's alerts go: one SNS topic, encrypted with its own customer-managed KMS key,
# for the Dagster alerts sensor (sns:Publish, granted in modules/iam) and the CloudWatch alarms of
# modules/alarms (alarm_actions and ok_actions). A customer-managed key, not alias/aws/sns: the AWS
# managed key's policy cannot let CloudWatch alarms use it, and their notifications would be dropped
# (CloudWatch User Guide, "Using Amazon CloudWatch alarms", encrypted SNS topics).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

# A key policy's "*" resource is the key itself. The account's IAM policies decide who may administer
# and use the key (modules/iam grants the Dagster role GenerateDataKey and Decrypt); CloudWatch, which
# has no IAM identity here, may use it for this account's alarms only.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy: its "*" resource is this key alone, and the account root principal hands its administration to the account's IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy: its "*" resource is this key alone; CloudWatch's use is limited to this account's alarms by aws:SourceAccount.
  #checkov:skip=CKV_AWS_356:A key policy cannot name its own key ARN (it does not exist yet); "*" there means this key.
  statement {
    sid = "AccountIamPoliciesGovernTheKey"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GenerateDataKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListGrants",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RevokeGrant",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsNotify"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alerts" {
  description             = "Encrypts the ${var.topic_name} SNS topic (health-pipeline alerts)."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "alerts" {
  name          = "alias/${var.topic_name}"
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = var.topic_name
  display_name      = "health-pipeline"
  kms_master_key_id = aws_kms_key.alerts.arn
}

# Each address gets a confirmation e-mail from AWS; nothing is delivered to it until the link in it
# is followed. Removing an address from the variable unsubscribes it at the next apply.
resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.email_addresses)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# Alarms publish as the CloudWatch service; this account's IAM identities (the Dagster role) publish
# through their own policies, which a same-account resource policy need not repeat.
data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.topic.json
}
