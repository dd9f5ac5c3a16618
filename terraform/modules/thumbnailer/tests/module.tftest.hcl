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
  mock_resource "aws_cloudfront_distribution" {
    defaults = { arn = "arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE", domain_name = "d111111abcdef8.cloudfront.net" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { bucket_regional_domain_name = "thumbnailer-thumbnails.s3.us-east-1.amazonaws.com" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = { execution_arn = "arn:aws:execute-api:us-east-1:123456789012:abc123" }
  }
  mock_resource "aws_apigatewayv2_stage" {
    defaults = { invoke_url = "https://abc123.execute-api.us-east-1.amazonaws.com/" }
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
  assert {
    condition     = length(aws_cloudfront_distribution.thumbnails) == 0 && output.cdn_domain_name == null && length(aws_lambda_function.upload) == 0 && length(aws_apigatewayv2_api.uploads) == 0 && output.upload_endpoint == null
    error_message = "no CDN and no upload API unless asked for"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.bucket["thumbnails"].source_policy_documents) == 0
    error_message = "without the CDN, nobody but the account reads the thumbnails bucket"
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

run "cdn_and_uploads" {
  command = apply

  variables {
    cdn_enabled            = true
    create_kms_key         = true
    uploads_enabled        = true
    upload_token_sha256    = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    upload_allowed_origins = ["https://photos.example.com"]
    cdn_signed_url_public_keys = {
      editor = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAexample\n-----END PUBLIC KEY-----"
    }
  }

  assert {
    condition     = aws_cloudfront_origin_access_control.thumbnails[0].origin_access_control_origin_type == "s3" && aws_cloudfront_origin_access_control.thumbnails[0].signing_behavior == "always" && aws_cloudfront_origin_access_control.thumbnails[0].signing_protocol == "sigv4"
    error_message = "the origin access control signs every request to S3 with SigV4"
  }
  assert {
    condition     = one(aws_cloudfront_distribution.thumbnails[0].origin).domain_name == "thumbnailer-thumbnails.s3.us-east-1.amazonaws.com" && one(aws_cloudfront_distribution.thumbnails[0].origin).origin_access_control_id == aws_cloudfront_origin_access_control.thumbnails[0].id
    error_message = "the distribution reads the thumbnails bucket through the origin access control"
  }
  assert {
    condition     = aws_cloudfront_distribution.thumbnails[0].default_cache_behavior[0].viewer_protocol_policy == "https-only" && aws_cloudfront_distribution.thumbnails[0].default_cache_behavior[0].allowed_methods == toset(["GET", "HEAD"]) && aws_cloudfront_distribution.thumbnails[0].default_cache_behavior[0].cache_policy_id == aws_cloudfront_cache_policy.thumbnails[0].id
    error_message = "HTTPS only, GET and HEAD, the module's cache policy"
  }
  assert {
    condition     = aws_cloudfront_cache_policy.thumbnails[0].min_ttl == 0 && aws_cloudfront_cache_policy.thumbnails[0].max_ttl == 31536000 && aws_cloudfront_cache_policy.thumbnails[0].parameters_in_cache_key_and_forwarded_to_origin[0].query_strings_config[0].query_string_behavior == "none"
    error_message = "the cache follows the origin's Cache-Control (no-cache held, a year at most), no query string in the key"
  }
  assert {
    condition     = aws_cloudfront_distribution.thumbnails[0].default_cache_behavior[0].trusted_key_groups == tolist([aws_cloudfront_key_group.signed_urls[0].id]) && aws_cloudfront_key_group.signed_urls[0].items == toset([aws_cloudfront_public_key.signed_urls["editor"].id]) && output.cdn_public_key_ids["editor"] == aws_cloudfront_public_key.signed_urls["editor"].id
    error_message = "signed URLs: the key group of the given public keys is trusted, their ids are output"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.cdn_read[0].statement : "${s.sid} ${coalesce(s.effect, "Allow")} ${join(",", s.actions)} ${join(",", sort(s.resources))}"] == ["CloudFrontReadsRenditionsAndManifests Allow s3:GetObject arn:aws:s3:::thumbnailer-thumbnails/*/????????????????/*,arn:aws:s3:::thumbnailer-thumbnails/*/manifest.json", "CloudFrontNeverReadsFailureRecords Deny s3:GetObject arn:aws:s3:::thumbnailer-thumbnails/failures/*"]
    error_message = "the distribution reads renditions and manifests, never failures/"
  }
  assert {
    condition     = [for c in data.aws_iam_policy_document.cdn_read[0].statement[0].condition : "${c.test} ${c.variable}=${join(",", c.values)}"] == ["StringEquals aws:SourceArn=arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE"]
    error_message = "only this distribution may read"
  }
  assert {
    condition     = data.aws_iam_policy_document.bucket["thumbnails"].source_policy_documents == tolist([data.aws_iam_policy_document.cdn_read[0].json]) && length(data.aws_iam_policy_document.bucket["originals"].source_policy_documents) == 0 && length(data.aws_iam_policy_document.bucket["alt_text"].source_policy_documents) == 0
    error_message = "the read statements are in the thumbnails bucket's policy, and in no other"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this["thumbnails"].block_public_policy && aws_s3_bucket_public_access_block.this["thumbnails"].restrict_public_buckets
    error_message = "the thumbnails bucket stays private"
  }
  assert {
    condition     = [for c in one([for s in data.aws_iam_policy_document.kms[0].statement : s if s.sid == "CloudFrontDecryptsTheThumbnails"]).condition : "${c.variable}=${join(",", c.values)}"] == ["aws:SourceArn=arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE"]
    error_message = "the distribution may decrypt with the created key, it alone"
  }
  assert {
    condition     = output.cdn_domain_name == "d111111abcdef8.cloudfront.net" && strcontains(output.try_it, "https://d111111abcdef8.cloudfront.net/")
    error_message = "the distribution's domain is output and in try_it"
  }

  assert {
    condition     = aws_lambda_function.upload[0].environment[0].variables["UPLOAD_TOKEN_SHA256"] == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" && aws_lambda_function.upload[0].environment[0].variables["UPLOAD_ALLOWED_ORIGINS"] == "https://photos.example.com" && aws_lambda_function.upload[0].environment[0].variables["ORIGINALS_BUCKET"] == "thumbnailer-originals"
    error_message = "the function gets the token digests, the origins and the bucket"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.upload[0].statement : "${s.sid} ${join(",", s.actions)} ${join(",", s.resources)}" if startswith(join(",", s.actions), "s3:")] == ["SignUploadsOfOriginals s3:PutObject arn:aws:s3:::thumbnailer-originals/uploads/*"]
    error_message = "the function's role may put objects under uploads/ of the originals bucket, and nothing else in S3"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.upload[0].statement : s if s.sid == "EncryptUploadsWithTheKey"]) == 1
    error_message = "uploads are encrypted with the created key"
  }
  assert {
    condition     = one(aws_s3_bucket_cors_configuration.originals[0].cors_rule).allowed_methods == toset(["POST"]) && one(aws_s3_bucket_cors_configuration.originals[0].cors_rule).allowed_origins == toset(["https://photos.example.com"])
    error_message = "the originals bucket accepts POSTs from the page's origin"
  }
  assert {
    condition     = keys(aws_apigatewayv2_route.uploads) == ["OPTIONS /uploads", "POST /uploads"] && aws_apigatewayv2_integration.uploads[0].payload_format_version == "2.0" && aws_apigatewayv2_integration.uploads[0].integration_type == "AWS_PROXY"
    error_message = "POST and OPTIONS /uploads reach the function, payload format 2.0"
  }
  assert {
    condition     = aws_lambda_permission.uploads[0].principal == "apigateway.amazonaws.com" && aws_lambda_permission.uploads[0].source_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/uploads"
    error_message = "only this API's /uploads routes invoke the function"
  }
  assert {
    condition     = aws_apigatewayv2_stage.uploads[0].default_route_settings[0].throttling_rate_limit == 10 && aws_apigatewayv2_stage.uploads[0].default_route_settings[0].throttling_burst_limit == 50
    error_message = "the stage throttles"
  }
  assert {
    condition     = output.upload_endpoint == "https://abc123.execute-api.us-east-1.amazonaws.com/" && strcontains(output.try_it, "npm run build:page -- --upload-endpoint https://abc123.execute-api.us-east-1.amazonaws.com/") && length(aws_cloudwatch_metric_alarm.upload_errors) == 1
    error_message = "the endpoint is output and in try_it; the function's errors are alarmed"
  }
}

run "rejects_uploads_without_a_token_digest" {
  command = plan

  variables {
    uploads_enabled        = true
    upload_allowed_origins = ["https://photos.example.com"]
  }

  expect_failures = [aws_lambda_function.upload]
}

run "rejects_a_token_in_place_of_its_digest_and_a_signing_key_that_is_no_public_key" {
  command = plan

  variables {
    uploads_enabled            = true
    upload_token_sha256        = ["my-secret-token"]
    upload_allowed_origins     = ["https://photos.example.com"]
    cdn_enabled                = true
    cdn_signed_url_public_keys = { editor = "ssh-rsa AAAAB3Nza" }
  }

  expect_failures = [var.upload_token_sha256, var.cdn_signed_url_public_keys]
}
