################################################################################
# One role per function, least privilege: no wildcard resources on data actions, no s3:*
################################################################################

locals {
  # bedrock:InvokeModel on the configured model only. A foundation model id is granted in this
  # region. A cross-Region inference profile id (<geography>.<model id>) is granted as the profile
  # (arn:...:<region>:<account>:inference-profile/<id>) plus the foundation model in every Region
  # the profile may route to, through that profile only (the bedrock:InferenceProfileArn
  # condition); a global. profile routes anywhere, which IAM writes as the Region-less model ARN
  # (arn:...:bedrock:::foundation-model/<id>) with aws:RequestedRegion "unspecified".
  bedrock_profile_geography = try(regex("^(us|eu|apac|jp|au|us-gov|global)\\.", var.alt_text_model)[0], null)
  bedrock_is_profile        = local.bedrock_profile_geography != null && var.alt_text_model_arns == null
  bedrock_is_global         = local.bedrock_is_profile && local.bedrock_profile_geography == "global"
  bedrock_base_model        = local.bedrock_is_profile ? trimprefix(var.alt_text_model, "${local.bedrock_profile_geography}.") : var.alt_text_model
  bedrock_profile_arn       = "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${var.alt_text_model}"

  # The Regions each geography's profiles route to, as AWS documents them (Bedrock's "Supported
  # Regions and models for inference profiles", the AWS CDK's CrossRegionInferenceProfileRegion;
  # checked 2026-12-02). A given profile uses some of them, and its own list can grow: see
  # var.alt_text_model_regions. Granting one it does not use opens nothing, as the grant holds
  # only through the profile.
  bedrock_geography_regions = {
    us     = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"]
    eu     = ["eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3"]
    apac   = ["ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "me-central-1"]
    jp     = ["ap-northeast-1", "ap-northeast-3"]
    au     = ["ap-southeast-2", "ap-southeast-4"]
    us-gov = ["us-gov-east-1", "us-gov-west-1"]
    # A global profile: the model in the source Region, and the Region-less ARN below.
    global = []
  }
  bedrock_model_regions = !local.bedrock_is_profile ? [] : distinct(concat(
    [local.region],
    var.alt_text_model_regions != null ? var.alt_text_model_regions : local.bedrock_geography_regions[local.bedrock_profile_geography],
  ))

  # What the function names in its requests: the ARNs given, the model or profile ARN given as
  # alt_text_model, the profile, or the foundation model in this region.
  bedrock_model_arns = var.alt_text_model_arns != null ? var.alt_text_model_arns : (
    startswith(var.alt_text_model, "arn:") ? [var.alt_text_model] : (
      local.bedrock_is_profile ? [local.bedrock_profile_arn] : ["arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.alt_text_model}"]
    )
  )
  # The foundation models a profile routes to, one ARN per Region.
  bedrock_routed_model_arns = [for region in local.bedrock_model_regions : "arn:${local.partition}:bedrock:${region}::foundation-model/${local.bedrock_base_model}"]
  bedrock_global_model_arn  = "arn:${local.partition}:bedrock:::foundation-model/${local.bedrock_base_model}"

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
  # order) and failures/ records. Delete: the renditions of a revision a newer write replaced,
  # and every rendition, failure record, retry note and dead-letter record of a deleted original
  # (keys as arbitrary as the originals', so no narrower pattern); the note of a failed attempt
  # once a retry succeeds.
  statement {
    sid       = "ReadWriteThumbnails"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arns.thumbnails}/*"]
  }

  # A deleted original's tombstone (K/manifest.json) is written with the tag its expiry rule
  # filters on, and with no other tag.
  statement {
    sid       = "TagTombstones"
    actions   = ["s3:PutObjectTagging"]
    resources = ["${local.bucket_arns.thumbnails}/*"]
    condition {
      test     = "StringEquals"
      variable = "s3:RequestObjectTag/thumbnailer"
      values   = ["tombstone"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "s3:RequestObjectTagKeys"
      values   = ["thumbnailer"]
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

  # A deleted original's text, kept for reuse under its bytes' hash, goes with it (its K.json is
  # replaced by a tombstone, a write).
  statement {
    sid       = "DeleteContentHashRecords"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.bucket_arns.alt_text}/by-content/*"]
  }

  # The tombstone (K.json) is written with the tag its expiry rule filters on, and no other.
  statement {
    sid       = "TagTombstones"
    actions   = ["s3:PutObjectTagging"]
    resources = ["${local.bucket_arns.alt_text}/*"]
    condition {
      test     = "StringEquals"
      variable = "s3:RequestObjectTag/thumbnailer"
      values   = ["tombstone"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "s3:RequestObjectTagKeys"
      values   = ["thumbnailer"]
    }
  }

  # The note of a failed attempt (for the failover's record), cleared once a retry succeeds.
  statement {
    sid       = "WriteOwnRetryNotes"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arns.thumbnails}/failures/retrying/${aws_sqs_queue.work["alt_text"].name}/*"]
  }

  # A model that refuses the function is alerted on, in digests: the alerts topic, and the state
  # that spaces the digests out (when the last one went, what is held for the next).
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  statement {
    sid       = "KeepOwnAlertState"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arns.thumbnails}/failures/alerts/${aws_sqs_queue.work["alt_text"].name}.json"]
  }

  dynamic "statement" {
    for_each = var.alt_text_provider == "bedrock" ? [local.bedrock_model_arns] : []
    content {
      sid       = "InvokeTheModel"
      actions   = ["bedrock:InvokeModel"]
      resources = statement.value
    }
  }

  # A cross-Region inference profile: the model in each Region it routes to, through it only.
  dynamic "statement" {
    for_each = var.alt_text_provider == "bedrock" && local.bedrock_is_profile ? [local.bedrock_routed_model_arns] : []
    content {
      sid       = "InvokeTheModelThroughTheProfile"
      actions   = ["bedrock:InvokeModel"]
      resources = statement.value
      condition {
        test     = "StringEquals"
        variable = "bedrock:InferenceProfileArn"
        values   = [local.bedrock_profile_arn]
      }
    }
  }

  # A global profile: the Region-less model ARN, which AWS authorizes with no requested Region.
  dynamic "statement" {
    for_each = var.alt_text_provider == "bedrock" && local.bedrock_is_global ? [local.bedrock_global_model_arn] : []
    content {
      sid       = "InvokeTheGlobalModelThroughTheProfile"
      actions   = ["bedrock:InvokeModel"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "bedrock:InferenceProfileArn"
        values   = [local.bedrock_profile_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:RequestedRegion"
        values   = ["unspecified"]
      }
    }
  }

  # A third-party model's first call subscribes the account to it in AWS Marketplace, as the
  # caller: Subscribe for the given products only, and ViewSubscriptions (which has no resource).
  dynamic "statement" {
    for_each = var.alt_text_provider == "bedrock" && length(var.alt_text_marketplace_product_ids) > 0 ? [var.alt_text_marketplace_product_ids] : []
    content {
      sid       = "SubscribeToTheModelOnFirstUse"
      actions   = ["aws-marketplace:Subscribe"]
      resources = ["*"]
      condition {
        test     = "ForAnyValue:StringEquals"
        variable = "aws-marketplace:ProductId"
        values   = statement.value
      }
    }
  }

  dynamic "statement" {
    for_each = var.alt_text_provider == "bedrock" && length(var.alt_text_marketplace_product_ids) > 0 ? [true] : []
    content {
      sid       = "SeeTheModelSubscription"
      actions   = ["aws-marketplace:ViewSubscriptions"]
      resources = ["*"]
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

  # One alert digest per dead-letter queue every few minutes: when the last went, what is held.
  statement {
    sid       = "KeepAlertState"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [for dlq in aws_sqs_queue.dlq : "${local.bucket_arns.thumbnails}/failures/alerts/${dlq.name}.json"]
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

################################################################################
# X-Ray (tracing = true): every function sends its segments
################################################################################

# X-Ray's write actions have no resource to scope them to: AWS requires "*".
data "aws_iam_policy_document" "tracing" {
  statement {
    sid       = "SendTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "tracing" {
  for_each = var.tracing ? local.functions : {}

  name   = "${each.value.name}-tracing"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.tracing.json
}

# A third-party model's first call subscribes the account in AWS Marketplace; without the
# product ids the function cannot, and every call is AccessDenied until someone subscribes.
check "third_party_model_subscription" {
  assert {
    condition     = var.alt_text_provider != "bedrock" || length(var.alt_text_marketplace_product_ids) > 0 || can(regex("^((us|eu|apac|jp|au|us-gov|global)\\.)?amazon\\.", var.alt_text_model)) || startswith(var.alt_text_model, "arn:")
    error_message = "${var.alt_text_model} is a third-party model: unless the account is already subscribed to it in AWS Marketplace, set alt_text_marketplace_product_ids (its product id) so that the first call can subscribe, or subscribe once from the Bedrock console."
  }
}
