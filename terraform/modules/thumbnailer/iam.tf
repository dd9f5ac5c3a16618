################################################################################
# One role per function, least privilege: no wildcard resources on data actions, no s3:*
################################################################################

locals {
  # bedrock:InvokeModel on the configured model only: the foundation model in this region, or
  # the ARNs given (an inference profile and the foundation models it routes to).
  bedrock_model_arns = var.alt_text_model_arns != null ? var.alt_text_model_arns : (
    startswith(var.alt_text_model, "arn:") ? [var.alt_text_model] : ["arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.alt_text_model}"]
  )

  function_policies = {
    thumbnail = data.aws_iam_policy_document.thumbnail.json
    alt_text  = data.aws_iam_policy_document.alt_text.json
    failover  = data.aws_iam_policy_document.failover.json
  }
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.functions

  name               = each.value.name
  description        = "Role of the ${each.value.name} function"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = local.functions

  name   = each.value.name
  role   = aws_iam_role.this[each.key].id
  policy = local.function_policies[each.key]
}

data "aws_iam_policy_document" "thumbnail" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["thumbnail"].arn}:*"]
  }

  statement {
    sid       = "ConsumeOwnQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.work["thumbnail"].arn]
  }

  statement {
    sid       = "ReadOriginals"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arns.originals}/*"]
  }

  # ListBucket makes a missing key a 404 (not found, permanent) rather than a 403.
  statement {
    sid       = "ListOriginalsAndThumbnails"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns.originals, local.bucket_arns.thumbnails]
  }

  # Renditions under K/<revision>/, K/manifest.json (read before its conditional write, for
  # order) and failures/ records. Delete: the renditions of a revision a newer write replaced
  # (keys as arbitrary as the originals', so no narrower pattern), and the note of a failed
  # attempt once a retry succeeds.
  statement {
    sid       = "ReadWriteThumbnails"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arns.thumbnails}/*"]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [local.kms_key_arn] : []
    content {
      sid       = "UseTheKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "alt_text" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["alt_text"].arn}:*"]
  }

  # ChangeMessageVisibility (and GetQueueUrl, to find the queue from a record's ARN) also hold a
  # throttled message back for the model provider's Retry-After.
  statement {
    sid = "ConsumeOwnQueue"
    actions = [
      "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.work["alt_text"].arn]
  }

  statement {
    sid       = "ReadOriginals"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arns.originals}/*"]
  }

  statement {
    sid       = "ListOriginalsAndAltText"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns.originals, local.bucket_arns.alt_text]
  }

  statement {
    sid       = "ReadWriteAltText"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arns.alt_text}/*"]
  }

  # The note of a failed attempt (for the failover's record), cleared once a retry succeeds.
  statement {
    sid       = "WriteOwnRetryNotes"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arns.thumbnails}/failures/retrying/${aws_sqs_queue.work["alt_text"].name}/*"]
  }

  dynamic "statement" {
    for_each = var.alt_text_provider == "bedrock" ? [local.bedrock_model_arns] : []
    content {
      sid       = "InvokeTheModel"
      actions   = ["bedrock:InvokeModel"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = local.use_kms ? [local.kms_key_arn] : []
    content {
      sid       = "UseTheKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "failover" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["failover"].arn}:*"]
  }

  statement {
    sid       = "ConsumeDeadLetterQueues"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.dlq["thumbnail"].arn, aws_sqs_queue.dlq["alt_text"].arn]
  }

  statement {
    sid       = "WriteFailureRecords"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arns.thumbnails}/failures/dead-letters/*"]
  }

  # The workers' notes of each message's last error: read into the record, then cleared.
  statement {
    sid       = "ReadAndClearRetryNotes"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arns.thumbnails}/failures/retrying/*"]
  }

  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [local.kms_key_arn] : []
    content {
      sid       = "UseTheKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}
