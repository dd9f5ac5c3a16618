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
    condition     = length(aws_s3_bucket_notification.originals.topic) == 1 && one(aws_s3_bucket_notification.originals.topic).events == toset(["s3:ObjectCreated:*"])
    error_message = "the originals bucket does not notify ObjectCreated:* to the topic"
  }
  assert {
    condition     = length(aws_kms_key.this) == 0 && length(aws_sns_topic_subscription.alert_email) == 0
    error_message = "no KMS key and no email subscription by default"
  }
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
    condition     = length(aws_s3_bucket_notification.originals.topic) == 2 && alltrue([for topic in aws_s3_bucket_notification.originals.topic : topic.filter_prefix == "uploads/"])
    error_message = "one notification per suffix, each with the prefix"
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

run "rejects_packages_of_the_other_architecture" {
  command = plan

  variables {
    architecture = "x86_64"
  }

  expect_failures = [aws_lambda_function.this]
}
