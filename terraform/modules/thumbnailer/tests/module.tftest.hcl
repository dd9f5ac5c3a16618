# terraform test, with a mocked AWS provider: plans the module (no account, no network) and
# checks what the parsed-HCL tests cannot: the values Terraform computes. Needs the AWS provider
# (terraform init), which test/terraform/terraform-test.test.ts finds in a local plugin mirror.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:queue", url = "https://sqs.us-east-1.amazonaws.com/123456789012/queue" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:topic" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/thumbnailer" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:thumbnailer" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/thumbnailer" }
  }
}

variables {
  lambda_package_dir = "./tests/packages"
}

run "defaults" {
  command = apply

  assert {
    condition     = aws_s3_bucket.this["originals"].bucket == "thumbnailer-originals" && aws_s3_bucket.this["thumbnails"].bucket == "thumbnailer-thumbnails" && aws_s3_bucket.this["alt_text"].bucket == "thumbnailer-alt-text"
    error_message = "bucket names are not <prefix>-originals, -thumbnails, -alt-text"
  }
  assert {
    condition     = aws_sqs_queue.work["thumbnail"].visibility_timeout_seconds == 360 && aws_sqs_queue.dlq["alt_text"].visibility_timeout_seconds == 180
    error_message = "visibility timeouts are not 6x the consuming function's timeout"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.work["alt_text"].redrive_policy).maxReceiveCount == 5
    error_message = "maxReceiveCount is not 5"
  }
  assert {
    condition     = alltrue([for queue in concat(values(aws_sqs_queue.work), values(aws_sqs_queue.dlq)) : queue.sqs_managed_sse_enabled])
    error_message = "a queue is not encrypted with SSE-SQS"
  }
  assert {
    condition     = alltrue([for config in aws_s3_bucket_server_side_encryption_configuration.this : one(config.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"])
    error_message = "a bucket is not encrypted with SSE-S3"
  }
  assert {
    condition     = keys(aws_s3_bucket_versioning.originals) == ["originals"]
    error_message = "only the originals bucket is versioned"
  }
  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.runtime == "nodejs22.x" && one(fn.architectures) == "arm64"])
    error_message = "functions are not Node.js 22 on arm64"
  }
  assert {
    condition     = aws_lambda_function.this["thumbnail"].memory_size == 2048 && aws_lambda_function.this["thumbnail"].timeout == 60
    error_message = "thumbnail function is not 2048 MB / 60 s"
  }
  assert {
    condition     = aws_lambda_function.this["alt_text"].environment[0].variables["ALT_TEXT_MODEL"] == "amazon.nova-lite-v1:0" && aws_lambda_function.this["thumbnail"].environment[0].variables["ALT_TEXT_BUCKET"] == "thumbnailer-alt-text"
    error_message = "function environment is wrong"
  }
  assert {
    condition     = length(local.bedrock_model_arns) == 1 && local.bedrock_model_arns[0] == "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    error_message = "bedrock:InvokeModel is not limited to the configured model"
  }
  assert {
    condition     = length(aws_s3_bucket_notification.originals.topic) == 1 && one(aws_s3_bucket_notification.originals.topic).events == toset(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    error_message = "the originals bucket does not notify ObjectCreated:* and ObjectRemoved:* to the topic"
  }
  assert {
    condition = alltrue([for role in ["thumbnails", "alt_text"] : length([
      for rule in aws_s3_bucket_lifecycle_configuration.this[role].rule : rule
      if rule.id == "expire-tombstones" && try(rule.expiration[0].days, 0) == 30 && try(one(one(rule.filter).tag).key, "") == "thumbnailer" && try(one(one(rule.filter).tag).value, "") == "tombstone"
    ]) == 1]) && length([for rule in aws_s3_bucket_lifecycle_configuration.this["originals"].rule : rule if rule.id == "expire-tombstones"]) == 0
    error_message = "tombstones (tag thumbnailer=tombstone) do not expire after 30 days in the thumbnails and alt-text buckets, or a rule touches the originals"
  }
  assert {
    condition     = length(aws_kms_key.this) == 0 && length(aws_sns_topic_subscription.alert_email) == 0
    error_message = "no KMS key and no email subscription by default"
  }
  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.tracing_config[0].mode == "PassThrough" && fn.logging_config[0].application_log_level == "INFO" && fn.environment[0].variables["POWERTOOLS_TRACE_ENABLED"] == "false"]) && length(aws_iam_role_policy.tracing) == 0
    error_message = "tracing is off by default and the application log level is INFO"
  }
  assert {
    condition     = length(aws_lambda_event_source_mapping.worker["thumbnail"].scaling_config) == 0 && aws_lambda_event_source_mapping.worker["alt_text"].scaling_config[0].maximum_concurrency == 5 && alltrue([for mapping in aws_lambda_event_source_mapping.failover : mapping.scaling_config[0].maximum_concurrency == 2])
    error_message = "maximum concurrency: none for thumbnails, 5 for alt text, 2 per failover mapping"
  }
  assert {
    condition     = keys(aws_sqs_queue_policy.dlq) == ["alt_text", "thumbnail"] && keys(aws_cloudwatch_metric_alarm.queue_age) == ["alt_text", "thumbnail"] && length(aws_cloudwatch_metric_alarm.function_throttles) == 3
    error_message = "the dead-letter queues have TLS-only policies; queue age and throttles are alarmed"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.permanent_failures["alt_text"].dimensions["service"] == "thumbnailer-alt-text" && aws_cloudwatch_metric_alarm.permanent_failures["thumbnail"].namespace == "Thumbnailer" && aws_cloudwatch_metric_alarm.dead_letters.dimensions["service"] == "thumbnailer-failover"
    error_message = "the metric alarms watch the handlers' namespace and service dimension"
  }
  assert {
    condition     = strcontains(output.try_it, "npx thumbnailer redrive --dlq-url https://sqs.") && strcontains(aws_cloudwatch_metric_alarm.dlq_depth["thumbnail"].alarm_description, "thumbnailer redrive --dlq-url")
    error_message = "try_it and the alarms point at thumbnailer redrive"
  }
}

run "operations" {
  command = apply

  variables {
    tracing                       = true
    log_level                     = "CRITICAL"
    thumbnail_maximum_concurrency = 20
    alt_text_maximum_concurrency  = null
  }

  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.tracing_config[0].mode == "Active" && fn.logging_config[0].application_log_level == "FATAL" && fn.environment[0].variables["POWERTOOLS_TRACE_ENABLED"] == "true"])
    error_message = "tracing Active with the tracer on, and CRITICAL as Lambda's FATAL"
  }
  assert {
    condition     = keys(aws_iam_role_policy.tracing) == ["alt_text", "failover", "thumbnail"]
    error_message = "every role may send traces when tracing is on"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.worker["thumbnail"].scaling_config[0].maximum_concurrency == 20 && length(aws_lambda_event_source_mapping.worker["alt_text"].scaling_config) == 0
    error_message = "each worker has its own maximum concurrency"
  }
}

run "geographic_inference_profile" {
  command = plan

  variables {
    alt_text_model = "eu.amazon.nova-lite-v1:0"
  }

  assert {
    condition     = local.bedrock_model_arns == tolist(["arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0"])
    error_message = "the profile is invoked by its own ARN"
  }
  assert {
    condition     = contains(local.bedrock_routed_model_arns, "arn:aws:bedrock:eu-west-3::foundation-model/amazon.nova-lite-v1:0") && contains(local.bedrock_routed_model_arns, "arn:aws:bedrock:eu-north-1::foundation-model/amazon.nova-lite-v1:0") && contains(local.bedrock_routed_model_arns, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")
    error_message = "the foundation model is granted in the source Region and every EU Region"
  }
  assert {
    condition     = [for c in one([for s in data.aws_iam_policy_document.alt_text.statement : s if s.sid == "InvokeTheModelThroughTheProfile"]).condition : "${c.test} ${c.variable}=${join(",", c.values)}"] == ["StringEquals bedrock:InferenceProfileArn=arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0"]
    error_message = "the foundation models are granted through the profile only"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.alt_text.statement : s if s.sid == "InvokeTheGlobalModelThroughTheProfile" || s.sid == "SubscribeToTheModelOnFirstUse"]) == 0
    error_message = "no global grant and no Marketplace permission for Nova through a geography"
  }
}

run "global_inference_profile" {
  command = plan

  variables {
    alt_text_model                   = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    alt_text_marketplace_product_ids = ["prod-example12345"]
  }

  assert {
    condition     = length(local.bedrock_routed_model_arns) == 1 && local.bedrock_routed_model_arns[0] == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
    error_message = "a global profile's model is granted in the source Region"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.alt_text.statement : s if s.sid == "InvokeTheGlobalModelThroughTheProfile"]).resources == toset(["arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"])
    error_message = "a global profile's model is granted as the Region-less ARN"
  }
  assert {
    condition     = contains([for c in one([for s in data.aws_iam_policy_document.alt_text.statement : s if s.sid == "InvokeTheGlobalModelThroughTheProfile"]).condition : "${c.variable}=${join(",", c.values)}"], "aws:RequestedRegion=unspecified")
    error_message = "the Region-less grant holds for the unspecified Region only"
  }
  assert {
    condition     = [for c in one([for s in data.aws_iam_policy_document.alt_text.statement : s if s.sid == "SubscribeToTheModelOnFirstUse"]).condition : "${c.test} ${c.variable}=${join(",", c.values)}"] == ["ForAnyValue:StringEquals aws-marketplace:ProductId=prod-example12345"]
    error_message = "Marketplace Subscribe is limited to the model's product"
  }
}

run "rejects_thumbnails_in_the_originals_bucket" {
  command = plan

  variables {
    existing_thumbnails_bucket = "thumbnailer-originals"
  }

  expect_failures = [aws_s3_bucket_notification.originals]
}

run "kms_and_filters" {
  command = apply

  variables {
    create_kms_key            = true
    originals_filter_prefix   = "uploads/"
    originals_filter_suffixes = [".jpg", ".png"]
    alert_email               = "ops@example.com"
  }

  assert {
    condition     = alltrue([for config in aws_s3_bucket_server_side_encryption_configuration.this : one(config.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" && one(config.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == aws_kms_key.this[0].arn])
    error_message = "buckets are not encrypted with the created key"
  }
  assert {
    condition     = alltrue([for queue in values(aws_sqs_queue.work) : queue.kms_master_key_id == aws_kms_key.this[0].arn]) && aws_sns_topic.events.kms_master_key_id == aws_kms_key.this[0].arn
    error_message = "queues and topics are not encrypted with the created key"
  }
  assert {
    condition     = length(aws_s3_bucket_notification.originals.topic) == 2 && alltrue([for topic in aws_s3_bucket_notification.originals.topic : topic.filter_prefix == "uploads/" && contains(topic.events, "s3:ObjectRemoved:*")])
    error_message = "one notification per suffix, each with the prefix and the removals"
  }
  assert {
    condition     = length(aws_sns_topic_subscription.alert_email) == 1
    error_message = "alert_email is not subscribed"
  }
}

run "existing_buckets" {
  command = plan

  variables {
    existing_originals_bucket = "my-photos"
  }

  assert {
    condition     = keys(aws_s3_bucket.this) == ["alt_text", "thumbnails"] && aws_s3_bucket_notification.originals.bucket == "my-photos"
    error_message = "an existing originals bucket is used, not created"
  }
}

run "rejects_a_short_visibility_timeout" {
  command = plan

  variables {
    visibility_timeout_multiplier = 2
  }

  expect_failures = [var.visibility_timeout_multiplier]
}

run "rejects_tombstones_expiring_before_the_last_event" {
  command = plan

  variables {
    tombstone_expiration_days = 14
  }

  expect_failures = [var.tombstone_expiration_days]
}

run "rejects_packages_of_the_other_architecture" {
  command = plan

  variables {
    architecture = "x86_64"
  }

  expect_failures = [aws_lambda_function.this]
}
