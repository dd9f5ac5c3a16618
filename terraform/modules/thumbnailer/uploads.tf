################################################################################
# Browser uploads (uploads_enabled): an HTTP API whose POST /uploads, given a bearer token, answers
# a presigned POST for uploads/YYYY/MM/DD/<id>/<name> in the originals bucket (size and image
# type in the signature); the page then posts the file to S3 itself. The function checks the
# token against SHA-256 digests (the tokens are never in Terraform) and answers CORS for
# upload_allowed_origins. An HTTP API rather than a function URL: a public function URL now also
# needs lambda:InvokeFunction restricted by lambda:InvokedViaFunctionUrl, which AWS provider 5.x
# cannot write; the API invokes the function through a permission scoped to this API alone, and
# throttles by stage.
################################################################################

locals {
  upload_function_name = "${var.prefix}-upload"

  upload_environment = merge(var.environment, local.common_environment, {
    POWERTOOLS_SERVICE_NAME = "thumbnailer-upload"
    ORIGINALS_BUCKET        = local.bucket_names.originals
    UPLOAD_TOKEN_SHA256     = join(",", var.upload_token_sha256)
    UPLOAD_ALLOWED_ORIGINS  = join(",", var.upload_allowed_origins)
    UPLOAD_EXPIRES_SECONDS  = tostring(var.upload_expires_seconds)
  })
}

resource "aws_cloudwatch_log_group" "upload" {
  count = var.uploads_enabled ? 1 : 0

  name              = "/aws/lambda/${local.upload_function_name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "upload" {
  count = var.uploads_enabled ? 1 : 0

  name               = local.upload_function_name
  description        = "Role of the ${local.upload_function_name} function: its signatures upload to uploads/ of the originals bucket"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = var.tags
}

# A presigned POST is signed with the function's credentials: S3 then authorizes the upload as
# this role. So it may put objects under uploads/ of the originals bucket, and nothing else.
data "aws_iam_policy_document" "upload" {
  count = var.uploads_enabled ? 1 : 0

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.upload[0].arn}:*"]
  }

  statement {
    sid       = "SignUploadsOfOriginals"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arns.originals}/uploads/*"]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [local.kms_key_arn] : []
    content {
      sid       = "EncryptUploadsWithTheKey"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "upload" {
  count = var.uploads_enabled ? 1 : 0

  name   = local.upload_function_name
  role   = aws_iam_role.upload[0].id
  policy = data.aws_iam_policy_document.upload[0].json
}

resource "aws_iam_role_policy" "upload_tracing" {
  count = var.uploads_enabled && var.tracing ? 1 : 0

  name   = "${local.upload_function_name}-tracing"
  role   = aws_iam_role.upload[0].id
  policy = data.aws_iam_policy_document.tracing.json
}

resource "aws_lambda_function" "upload" {
  count = var.uploads_enabled ? 1 : 0

  function_name                  = local.upload_function_name
  description                    = "Thumbnailer: signs browser uploads to the originals bucket"
  role                           = aws_iam_role.upload[0].arn
  filename                       = "${var.lambda_package_dir}/upload.zip"
  source_code_hash               = fileexists("${var.lambda_package_dir}/upload.zip") ? filebase64sha256("${var.lambda_package_dir}/upload.zip") : null
  handler                        = "index.handler"
  runtime                        = "nodejs22.x"
  architectures                  = [var.architecture]
  memory_size                    = 256
  timeout                        = 10
  reserved_concurrent_executions = var.upload_reserved_concurrency

  environment {
    variables = local.upload_environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.upload[0].name
    application_log_level = local.application_log_level
    system_log_level      = "INFO"
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  lifecycle {
    precondition {
      condition     = length(var.upload_token_sha256) > 0 && length(var.upload_allowed_origins) > 0
      error_message = "uploads_enabled needs upload_token_sha256 (printf %s \"$TOKEN\" | sha256sum) and upload_allowed_origins (the origin of the page, e.g. https://photos.example.com)."
    }
    precondition {
      condition     = fileexists("${var.lambda_package_dir}/upload.zip")
      error_message = "No upload.zip in ${var.lambda_package_dir} (packages built before browser uploads): run `npm run build:lambda -- --arch ${local.package_arch}`."
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.upload, aws_iam_role_policy.upload_tracing]
}

resource "aws_cloudwatch_log_group" "upload_api" {
  count = var.uploads_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.prefix}-uploads"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

# CORS is the function's (it answers OPTIONS too): one tested place decides which pages may call.
resource "aws_apigatewayv2_api" "uploads" {
  count = var.uploads_enabled ? 1 : 0

  name          = "${var.prefix}-uploads"
  description   = "Thumbnailer: presigned POSTs for browser uploads to ${local.bucket_names.originals}"
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "uploads" {
  count = var.uploads_enabled ? 1 : 0

  api_id                 = aws_apigatewayv2_api.uploads[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.upload[0].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "uploads" {
  for_each = var.uploads_enabled ? toset(["POST /uploads", "OPTIONS /uploads"]) : toset([])

  api_id    = aws_apigatewayv2_api.uploads[0].id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.uploads[0].id}"
}

resource "aws_apigatewayv2_stage" "uploads" {
  count = var.uploads_enabled ? 1 : 0

  api_id      = aws_apigatewayv2_api.uploads[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.upload_throttling_rate_limit
    throttling_burst_limit = var.upload_throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.upload_api[0].arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      time      = "$context.requestTime"
      route     = "$context.routeKey"
      status    = "$context.status"
      latencyMs = "$context.responseLatency"
      error     = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

# Invoked by this API's routes only.
resource "aws_lambda_permission" "uploads" {
  count = var.uploads_enabled ? 1 : 0

  statement_id  = "InvokedByTheUploadsApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.upload[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.uploads[0].execution_arn}/*/*/uploads"
}

# The browser posts the file to the bucket itself: POST from the pages' origins.
resource "aws_s3_bucket_cors_configuration" "originals" {
  count = var.uploads_enabled && var.existing_originals_bucket == null ? 1 : 0

  bucket = aws_s3_bucket.this["originals"].id

  cors_rule {
    allowed_methods = ["POST"]
    allowed_origins = var.upload_allowed_origins
    max_age_seconds = 3000
  }
}

resource "aws_cloudwatch_metric_alarm" "upload_errors" {
  count = var.uploads_enabled ? 1 : 0

  alarm_name          = "${local.upload_function_name}-errors"
  alarm_description   = "Invocations of ${local.upload_function_name} crashed or timed out: browser uploads are refused meanwhile. See its log group ${aws_cloudwatch_log_group.upload[0].name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.upload[0].function_name }
  statistic           = "Sum"
  period              = var.error_alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.error_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

check "uploads_reach_the_pipeline" {
  assert {
    condition     = !var.uploads_enabled || var.originals_filter_prefix == null || startswith("uploads/", coalesce(var.originals_filter_prefix, "-"))
    error_message = "Browser uploads go under uploads/, which originals_filter_prefix (${var.originals_filter_prefix == null ? "none" : var.originals_filter_prefix}) leaves out: they would raise no event, and get no thumbnails."
  }
}

check "uploads_bucket_cors" {
  assert {
    condition     = !var.uploads_enabled || var.existing_originals_bucket == null
    error_message = "The originals bucket ${local.bucket_names.originals} was passed in: add a CORS rule allowing POST from ${join(", ", var.upload_allowed_origins)} to it yourself (the module would replace its CORS configuration)."
  }
}
