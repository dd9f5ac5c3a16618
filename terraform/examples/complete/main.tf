# The whole pipeline in one `terraform apply`: run `npm run build:lambda` in the repository
# first (it writes ../../../dist/lambda-packages), then `terraform init && terraform apply` here.

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "thumbnailer" }
  }
}

data "aws_caller_identity" "current" {}

locals {
  # Bucket names are global: the account id makes the default prefix yours.
  prefix = coalesce(var.prefix, "thumbnailer-${data.aws_caller_identity.current.account_id}")
}

module "thumbnailer" {
  source = "../../modules/thumbnailer"

  prefix             = local.prefix
  lambda_package_dir = var.lambda_package_dir
  architecture       = var.architecture

  force_destroy  = var.force_destroy
  create_kms_key = var.create_kms_key
  alert_email    = var.alert_email

  alt_text_provider                = var.alt_text_provider
  alt_text_model                   = var.alt_text_model
  alt_text_model_regions           = var.alt_text_model_regions
  alt_text_model_arns              = var.alt_text_model_arns
  alt_text_marketplace_product_ids = var.alt_text_marketplace_product_ids
  alt_text_language                = var.alt_text_language
  alt_text_maximum_concurrency     = var.alt_text_maximum_concurrency
  thumbnail_maximum_concurrency    = var.thumbnail_maximum_concurrency

  log_level = var.log_level
  tracing   = var.tracing

  # Thumbnails served through CloudFront (the bucket stays private), signed URLs with keys.
  cdn_enabled                = true
  cdn_signed_url_public_keys = var.cdn_signed_url_public_keys

  # Browser uploads once a token digest is given.
  uploads_enabled        = length(var.upload_token_sha256) > 0
  upload_token_sha256    = var.upload_token_sha256
  upload_allowed_origins = var.upload_allowed_origins
}
