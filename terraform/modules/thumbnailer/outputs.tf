################################################################################
# Buckets
################################################################################

output "originals_bucket" {
  description = "Name of the originals bucket: upload here."
  value       = local.bucket_ids.originals
}

output "thumbnails_bucket" {
  description = "Name of the thumbnails bucket: K/<revision>/<preset>.<ext> and K/manifest.json for each original K, failure records under failures/."
  value       = local.bucket_ids.thumbnails
}

output "alt_text_bucket" {
  description = "Name of the alt-text bucket: K.json for each original K."
  value       = local.bucket_ids.alt_text
}

output "bucket_arns" {
  description = "ARNs of the originals, thumbnails and alt_text buckets."
  value       = local.bucket_arns
}

################################################################################
# Topics and queues
################################################################################

output "events_topic_arn" {
  description = "ARN of the topic the originals bucket notifies of every new object."
  value       = aws_sns_topic.events.arn
}

output "alerts_topic_arn" {
  description = "ARN of the alerts topic (dead letters, function errors): subscribe to it."
  value       = aws_sns_topic.alerts.arn
}

output "queue_urls" {
  description = "URLs of the thumbnail and alt_text queues."
  value       = { for worker, queue in aws_sqs_queue.work : worker => queue.url }
}

output "queue_arns" {
  description = "ARNs of the thumbnail and alt_text queues."
  value       = { for worker, queue in aws_sqs_queue.work : worker => queue.arn }
}

output "dead_letter_queue_urls" {
  description = "URLs of the thumbnail and alt_text dead-letter queues (the --dlq-url of thumbnailer redrive)."
  value       = { for worker, queue in aws_sqs_queue.dlq : worker => queue.url }
}

output "redrive_commands" {
  description = "For each dead-letter queue, the command that sends its failures back once the cause is fixed."
  value       = local.redrive_commands
}

output "dead_letter_queue_arns" {
  description = "ARNs of the thumbnail and alt_text dead-letter queues."
  value       = { for worker, queue in aws_sqs_queue.dlq : worker => queue.arn }
}

################################################################################
# Functions
################################################################################

output "function_names" {
  description = "Names of the thumbnail, alt_text and failover functions."
  value       = { for key, function in aws_lambda_function.this : key => function.function_name }
}

output "function_arns" {
  description = "ARNs of the thumbnail, alt_text and failover functions."
  value       = { for key, function in aws_lambda_function.this : key => function.arn }
}

output "log_group_names" {
  description = "CloudWatch log groups of the thumbnail, alt_text and failover functions."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}

output "kms_key_arn" {
  description = "ARN of the KMS key in use (null: SSE-S3 and SSE-SQS)."
  value       = local.kms_key_arn
}

################################################################################
# Try it
################################################################################

output "try_it" {
  description = "Commands to try the deployment, as the original README listed them: upload, list the outputs, tail the logs, redrive."
  value       = <<-EOT
    # Upload a photo (any key; the thumbnails appear under "<key>/" in a few seconds):
    aws s3 cp "my dune.jpg" s3://${local.bucket_ids.originals}/
    # List the thumbnails and manifest, and the alt text:
    aws s3 ls s3://${local.bucket_ids.thumbnails}/ --recursive
    aws s3 ls s3://${local.bucket_ids.alt_text}/ --recursive
    aws s3 cp "s3://${local.bucket_ids.thumbnails}/my dune.jpg/manifest.json" -
    %{if local.cdn_enabled~}
    # Served by the CDN at the keys the manifest names (renditions cached for a year):
    curl -sI "https://${aws_cloudfront_distribution.thumbnails[0].domain_name}/my%20dune.jpg/manifest.json"
    %{endif~}
    %{if var.uploads_enabled~}
    # Browser uploads: the page for this endpoint (host it at one of ${join(", ", var.upload_allowed_origins)}):
    npm run build:page -- --upload-endpoint ${aws_apigatewayv2_stage.uploads[0].invoke_url}
    %{endif~}
    # Follow the functions' logs:
    aws logs tail ${aws_cloudwatch_log_group.this["thumbnail"].name} --follow
    aws logs tail ${aws_cloudwatch_log_group.this["alt_text"].name} --follow
    aws logs tail ${aws_cloudwatch_log_group.this["failover"].name} --follow
    # Failure records, and a redrive once the cause is fixed (from the repository, or with the
    # thumbnailer package installed): the dead letters of each queue back to it.
    aws s3 ls s3://${local.bucket_ids.thumbnails}/failures/ --recursive
    ${local.redrive_commands.thumbnail}
    ${local.redrive_commands.alt_text}
  EOT
}

output "tear_down" {
  description = "Commands to empty the created buckets, then destroy the stack (the originals bucket is versioned: without force_destroy = true, terraform destroy also needs its old versions deleted)."
  value       = <<-EOT
    %{for role, name in local.created_buckets~}
    aws s3 rm s3://${name} --recursive
    %{endfor~}
    terraform destroy
  EOT
}

################################################################################
# Serving and browser uploads
################################################################################

output "cdn_domain_name" {
  description = "Domain of the thumbnails distribution (cdn_enabled): a rendition or manifest is at https://<this>/<its key, each segment percent-encoded>, as the manifest names it. null without the CDN."
  value       = one(aws_cloudfront_distribution.thumbnails[*].domain_name)
}

output "cdn_distribution_id" {
  description = "Id of the thumbnails distribution (for invalidations; renditions never need one, their keys change with every write). null without the CDN."
  value       = one(aws_cloudfront_distribution.thumbnails[*].id)
}

output "cdn_distribution_arn" {
  description = "ARN of the thumbnails distribution: the aws:SourceArn its bucket policy and key policy name. null without the CDN."
  value       = one(aws_cloudfront_distribution.thumbnails[*].arn)
}

output "cdn_public_key_ids" {
  description = "For each key of cdn_signed_url_public_keys, its CloudFront id: the Key-Pair-Id of URLs signed with its private key."
  value       = { for name, key in aws_cloudfront_public_key.signed_urls : name => key.id }
}

output "cdn_bucket_policy_json" {
  description = "The statements that let the distribution read renditions and manifests (and never failures/): already in the policy of a thumbnails bucket the module created; add them to one passed in. null without the CDN."
  value       = one(data.aws_iam_policy_document.cdn_read[*].json)
}

output "upload_endpoint" {
  description = "Base URL of the uploads API (uploads_enabled): POST <this>uploads with Authorization: Bearer <token>. The page's config.json names it: npm run build:page -- --upload-endpoint <this>. null without uploads."
  value       = one(aws_apigatewayv2_stage.uploads[*].invoke_url)
}

output "upload_function_name" {
  description = "Name of the upload function (uploads_enabled), null without uploads."
  value       = one(aws_lambda_function.upload[*].function_name)
}
