################################################################################
# Optional customer-managed key (create_kms_key = true)
################################################################################

data "aws_iam_policy_document" "kms" {
  count = var.create_kms_key ? 1 : 0

  # In a key policy, "*" is this key. The account keeps control of it, through IAM.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # S3 encrypts the events it publishes to the encrypted events topic, SNS the messages it
  # delivers to the encrypted queues, CloudWatch the alarms it publishes to the alerts topic:
  # each from this account only.
  statement {
    sid       = "ServicesOfThisAccountUseTheKey"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # The CDN reads encrypted renditions: decrypt, for the thumbnails distribution only.
  dynamic "statement" {
    for_each = local.cdn_enabled ? [aws_cloudfront_distribution.thumbnails[0].arn] : []
    content {
      sid       = "CloudFrontDecryptsTheThumbnails"
      actions   = ["kms:Decrypt"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["cloudfront.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "Thumbnailer (${var.prefix}): buckets, queues and topics"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${var.prefix}"
  target_key_id = aws_kms_key.this[0].key_id
}
