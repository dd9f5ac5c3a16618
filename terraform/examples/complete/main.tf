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

  alt_text_provider = var.alt_text_provider
  alt_text_model    = var.alt_text_model
}
