locals {
  # The two workers, each with its queue and dead-letter queue.
  workers = {
    thumbnail = { queue = local.names.thumbnail_queue, dlq = local.names.thumbnail_dlq, maximum_concurrency = var.thumbnail_maximum_concurrency }
    alt_text  = { queue = local.names.alt_text_queue, dlq = local.names.alt_text_dlq, maximum_concurrency = var.alt_text_maximum_concurrency }
  }
}

################################################################################
# Events topic: the originals bucket's ObjectCreated and ObjectRemoved notifications, and nothing else
################################################################################

resource "aws_sns_topic" "events" {
  name              = local.names.events_topic
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "events_topic" {
  statement {
    sid       = "OriginalsBucketPublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arns.originals]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "events" {
  arn    = aws_sns_topic.events.arn
  policy = data.aws_iam_policy_document.events_topic.json
}

resource "aws_s3_bucket_notification" "originals" {
  bucket = local.bucket_ids.originals

  # One topic configuration per suffix (S3 has one suffix per filter), or one for every key.
  # Removals too: a deleted original's thumbnails and alt text are deleted with it.
  dynamic "topic" {
    for_each = length(var.originals_filter_suffixes) > 0 ? var.originals_filter_suffixes : [null]
    content {
      id            = topic.value == null ? "thumbnailer" : "thumbnailer${replace(topic.value, "/[^A-Za-z0-9]/", "-")}"
      topic_arn     = aws_sns_topic.events.arn
      events        = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
      filter_prefix = var.originals_filter_prefix
      filter_suffix = topic.value
    }
  }

  # S3 checks that it may publish when the notification is saved.
  depends_on = [aws_sns_topic_policy.events]

  lifecycle {
    # Outputs in the originals bucket would raise events of their own, and the workers, which
    # never take an output bucket's object for an original, would ignore every upload.
    precondition {
      condition     = local.bucket_names.thumbnails != local.bucket_names.originals && local.bucket_names.alt_text != local.bucket_names.originals
      error_message = "The thumbnails and alt-text buckets must not be the originals bucket (${local.bucket_names.originals}): set existing_thumbnails_bucket / existing_alt_text_bucket to another bucket, or leave them null to create one."
    }
  }
}

################################################################################
# Queues: one per worker, each with a dead-letter queue
################################################################################

resource "aws_sqs_queue" "dlq" {
  for_each = local.workers

  name                      = each.value.dlq
  message_retention_seconds = var.dlq_retention_seconds
  # The failover function consumes the dead-letter queues.
  visibility_timeout_seconds        = var.failover_timeout_seconds * var.visibility_timeout_multiplier
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  tags                              = var.tags
}

resource "aws_sqs_queue" "work" {
  for_each = local.workers

  name                              = each.value.queue
  message_retention_seconds         = var.message_retention_seconds
  visibility_timeout_seconds        = var.function_timeout_seconds * var.visibility_timeout_multiplier
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

# Each dead-letter queue takes dead letters from its own queue only.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.workers

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.work[each.key].arn]
  })
}

data "aws_iam_policy_document" "queue" {
  for_each = local.workers

  statement {
    sid       = "EventsTopicSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.events.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.work[each.key].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# The dead-letter queues take messages from their source queue only (redrive, no sender needs a
# grant) and, like every queue here, refuse requests without TLS.
data "aws_iam_policy_document" "dlq" {
  for_each = local.workers

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq[each.key].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.workers

  queue_url = aws_sqs_queue.dlq[each.key].id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}

resource "aws_sqs_queue_policy" "work" {
  for_each = local.workers

  queue_url = aws_sqs_queue.work[each.key].id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

resource "aws_sns_topic_subscription" "work" {
  for_each = local.workers

  topic_arn = aws_sns_topic.events.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.work[each.key].arn
  # The queue receives S3's event JSON itself, not wrapped in an SNS envelope.
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.work]
}
