output "originals_bucket" {
  description = "Upload originals here."
  value       = module.thumbnailer.originals_bucket
}

output "thumbnails_bucket" {
  description = "Thumbnails, manifests and failure records."
  value       = module.thumbnailer.thumbnails_bucket
}

output "alt_text_bucket" {
  description = "Alt text, one K.json per original K."
  value       = module.thumbnailer.alt_text_bucket
}

output "alerts_topic_arn" {
  description = "The alerts topic."
  value       = module.thumbnailer.alerts_topic_arn
}

output "queue_urls" {
  description = "The work queues."
  value       = module.thumbnailer.queue_urls
}

output "dead_letter_queue_urls" {
  description = "The dead-letter queues."
  value       = module.thumbnailer.dead_letter_queue_urls
}

output "function_names" {
  description = "The thumbnail, alt-text and failover functions."
  value       = module.thumbnailer.function_names
}

output "try_it" {
  description = "Upload, list, tail: terraform output -raw try_it"
  value       = module.thumbnailer.try_it
}

output "tear_down" {
  description = "Empty the buckets, then destroy: terraform output -raw tear_down"
  value       = module.thumbnailer.tear_down
}

output "cdn_domain_name" {
  description = "The thumbnails CDN: https://<this>/<a key the manifest names>."
  value       = module.thumbnailer.cdn_domain_name
}

output "cdn_public_key_ids" {
  description = "Key-Pair-Id of each signed-URL key."
  value       = module.thumbnailer.cdn_public_key_ids
}

output "upload_endpoint" {
  description = "The uploads API, for the page: npm run build:page -- --upload-endpoint <this>."
  value       = module.thumbnailer.upload_endpoint
}
