locals {
  # Environment shared by every function: Powertools' service name is set per function below.
  common_environment = {
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
    # The handlers load the Powertools Tracer only when this says true.
    POWERTOOLS_TRACE_ENABLED = var.tracing ? "true" : "false"
  }

  # Lambda's application log levels: Powertools' CRITICAL is Lambda's FATAL, and SILENT keeps
  # only what Lambda itself cannot drop.
  application_log_level = {
    DEBUG    = "DEBUG"
    INFO     = "INFO"
    WARN     = "WARN"
    ERROR    = "ERROR"
    CRITICAL = "FATAL"
    SILENT   = "FATAL"
  }[var.log_level]

  functions = {
    thumbnail = {
      name                 = "${var.prefix}-thumbnail"
      package              = "thumbnail"
      description          = "Thumbnailer: renders the thumbnails and manifest of each new original"
      memory_size          = var.thumbnail_memory_size
      timeout              = var.function_timeout_seconds
      reserved_concurrency = var.thumbnail_reserved_concurrency
      environment = merge(var.environment, local.common_environment, {
        POWERTOOLS_SERVICE_NAME = "thumbnailer-thumbnail"
        ORIGINALS_BUCKET        = local.bucket_names.originals
        THUMBNAILS_BUCKET       = local.bucket_names.thumbnails
        # Recursion guard: events from the output buckets are never originals.
        ALT_TEXT_BUCKET = local.bucket_names.alt_text
      })
    }
    alt_text = {
      name                 = "${var.prefix}-alt-text"
      package              = "alt-text"
      description          = "Thumbnailer: writes the alt text of each new original"
      memory_size          = var.alt_text_memory_size
      timeout              = var.function_timeout_seconds
      reserved_concurrency = var.alt_text_reserved_concurrency
      environment = merge(var.alt_text_environment, local.common_environment, {
        POWERTOOLS_SERVICE_NAME = "thumbnailer-alt-text"
        ORIGINALS_BUCKET        = local.bucket_names.originals
        ALT_TEXT_BUCKET         = local.bucket_names.alt_text
        THUMBNAILS_BUCKET       = local.bucket_names.thumbnails
        ALT_TEXT_PROVIDER       = var.alt_text_provider
        ALT_TEXT_MODEL          = var.alt_text_model
        ALT_TEXT_LANGUAGE       = var.alt_text_language
        # A model that refuses this function (access denied, unknown model) is alerted on.
        ALERTS_TOPIC_ARN     = aws_sns_topic.alerts.arn
        ALERT_DIGEST_SECONDS = tostring(var.alert_digest_seconds)
      })
    }
    failover = {
      name                 = "${var.prefix}-failover"
      package              = "failover"
      description          = "Thumbnailer: records each dead letter and raises an alert"
      memory_size          = var.failover_memory_size
      timeout              = var.failover_timeout_seconds
      reserved_concurrency = var.failover_reserved_concurrency
      environment = merge(local.common_environment, {
        POWERTOOLS_SERVICE_NAME = "thumbnailer-failover"
        # Dead-letter records go under failures/dead-letters/ in the thumbnails bucket.
        THUMBNAILS_BUCKET    = local.bucket_names.thumbnails
        ALERTS_TOPIC_ARN     = aws_sns_topic.alerts.arn
        ALERT_DIGEST_SECONDS = tostring(var.alert_digest_seconds)
      })
    }
  }

  # build.json, written by npm run build:lambda beside the zips: what they were built for.
  package_build = try(jsondecode(file("${var.lambda_package_dir}/build.json")), null)
  package_arch  = { arm64 = "arm64", x86_64 = "x64" }[var.architecture]
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name                  = each.value.name
  description                    = each.value.description
  role                           = aws_iam_role.this[each.key].arn
  filename                       = "${var.lambda_package_dir}/${each.value.package}.zip"
  source_code_hash               = filebase64sha256("${var.lambda_package_dir}/${each.value.package}.zip")
  handler                        = "index.handler"
  runtime                        = "nodejs22.x"
  architectures                  = [var.architecture]
  memory_size                    = each.value.memory_size
  timeout                        = each.value.timeout
  reserved_concurrent_executions = each.value.reserved_concurrency

  environment {
    variables = each.value.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this[each.key].name
    application_log_level = local.application_log_level
    system_log_level      = "INFO"
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  lifecycle {
    precondition {
      condition     = local.package_build != null
      error_message = "No ${var.lambda_package_dir}/build.json: run `npm run build:lambda -- --arch ${local.package_arch}` in the repository first."
    }
    precondition {
      condition     = try(local.package_build.arch, "") == local.package_arch
      error_message = "The packages in ${var.lambda_package_dir} hold sharp for ${try(local.package_build.arch, "an unknown architecture")}, not ${local.package_arch}: run `npm run build:lambda -- --arch ${local.package_arch}`."
    }
  }

  tags = var.tags

  # The role must be able to write logs and read its queue before the first invocation.
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy.tracing]
}

# Workers: each consumes its own queue, reporting the records that failed (partial batch response).
resource "aws_lambda_event_source_mapping" "worker" {
  for_each = local.workers

  event_source_arn                   = aws_sqs_queue.work[each.key].arn
  function_name                      = aws_lambda_function.this[each.key].arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = each.value.maximum_concurrency == null ? [] : [each.value.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }
}

# Failover: consumes both dead-letter queues.
resource "aws_lambda_event_source_mapping" "failover" {
  for_each = aws_sqs_queue.dlq

  event_source_arn                   = each.value.arn
  function_name                      = aws_lambda_function.this["failover"].arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  # Few failovers at once: fewer alert digests racing for the same queue's alert state.
  scaling_config {
    maximum_concurrency = var.failover_maximum_concurrency
  }
}
