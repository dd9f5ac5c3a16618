################################################################################
# Alerts topic and alarms: dead letters, permanent failures, queues falling behind, functions
# failing or throttled. Each description says what to look at and what to run.
################################################################################

locals {
  # The command that sends a dead-letter queue's failures back once the cause is fixed: the
  # messages still in it and the failover's records of those it consumed (README: redrive).
  redrive_commands = {
    for worker, dlq in aws_sqs_queue.dlq :
    worker => "THUMBNAILS_BUCKET=${local.bucket_ids.thumbnails} AWS_REGION=${local.region} npx thumbnailer redrive --dlq-url ${dlq.url}"
  }

  # Where each worker's permanent failures are written.
  permanent_failure_records = {
    thumbnail = "failure records under s3://${local.bucket_ids.thumbnails}/failures/thumbnail/ (corrupt, too large or refused originals: replace the original, or re-upload it once the limit is raised)"
    alt_text  = "alt-text records with \"status\": \"failed\" in s3://${local.bucket_ids.alt_text}/ (refused or invalid answers; or the model denied: PROVIDER_AUTH, PROVIDER_BAD_REQUEST, PROVIDER_QUOTA, whose alert digest names the setting to fix)"
  }
}

resource "aws_sns_topic" "alerts" {
  name              = local.names.alerts_topic
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alert_email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = aws_sqs_queue.dlq

  alarm_name          = "${each.value.name}-not-empty"
  alarm_description   = "Messages are waiting in ${each.value.name}: the failover function records and removes dead letters, so it is failing (see its log group). Fix the cause, then redrive: ${local.redrive_commands[each.key]}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = aws_lambda_function.this

  alarm_name          = "${each.value.function_name}-errors"
  alarm_description   = "Invocations of ${each.value.function_name} crashed or timed out (records reported as batch item failures are not counted). See its log group ${aws_cloudwatch_log_group.this[each.key].name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function_name }
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

# The handlers' own Powertools metrics (namespace var.metrics_namespace, dimension service: the
# function's POWERTOOLS_SERVICE_NAME), which test/terraform checks against what they emit.
resource "aws_cloudwatch_metric_alarm" "permanent_failures" {
  for_each = local.workers

  alarm_name          = "${local.functions[each.key].name}-permanent-failures"
  alarm_description   = "${local.functions[each.key].name} failed on images for good (not retried, not dead letters): see the ${local.permanent_failure_records[each.key]}. Its log group ${aws_cloudwatch_log_group.this[each.key].name} has each one, by key."
  namespace           = var.metrics_namespace
  metric_name         = "PermanentFailures"
  dimensions          = { service = local.functions[each.key].environment.POWERTOOLS_SERVICE_NAME }
  statistic           = "Sum"
  period              = var.error_alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.permanent_failures_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# Dead letters the failover recorded (the DLQs themselves stay empty while it works). Its alert
# digests go out at most once per queue every alert_digest_seconds; this alarm fires at once.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${local.functions.failover.name}-dead-letters"
  alarm_description   = "Messages ran out of retries and were recorded under s3://${local.bucket_ids.thumbnails}/failures/dead-letters/<queue>/ (the alert digests count them by error code). Fix the cause, then redrive: ${local.redrive_commands.thumbnail} ; ${local.redrive_commands.alt_text}"
  namespace           = var.metrics_namespace
  metric_name         = "DeadLetters"
  dimensions          = { service = local.functions.failover.environment.POWERTOOLS_SERVICE_NAME }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = aws_sqs_queue.work

  alarm_name          = "${each.value.name}-falling-behind"
  alarm_description   = "The oldest message in ${each.value.name} has waited over ${var.queue_age_alarm_seconds} s: its worker is not keeping up (a bulk import at its maximum concurrency, throttled, or failing and retrying). See ${aws_cloudwatch_log_group.this[each.key].name}, the function's Throttles and Errors, and the ${each.key}_maximum_concurrency setting."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = aws_lambda_function.this

  alarm_name          = "${each.value.function_name}-throttles"
  alarm_description   = "Invocations of ${each.value.function_name} were throttled: the account's concurrency, or its reserved concurrency, is used up. Its messages wait (and may run out of receives into the dead-letter queue): raise the limit, or cap the queue's event source mapping with *_maximum_concurrency instead."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = var.error_alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}
