variable "region" {
  description = "AWS region to deploy to (Amazon Nova Lite, the default alt-text model, must be available there)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "prefix" {
  description = "Prefix of every resource name. null: thumbnailer-<account id>, so that the bucket names are unique."
  type        = string
  default     = null
}

variable "lambda_package_dir" {
  description = "Where `npm run build:lambda` wrote the function packages."
  type        = string
  default     = "../../../dist/lambda-packages"
}

variable "architecture" {
  description = "Lambda architecture, arm64 or x86_64; build the packages for it (npm run build:lambda -- --arch arm64|x64)."
  type        = string
  default     = "arm64"
}

variable "force_destroy" {
  description = "true for a test stack: terraform destroy then deletes the buckets with everything in them, old versions included."
  type        = bool
  default     = false
}

variable "create_kms_key" {
  description = "Encrypt buckets, queues and topics with a customer-managed KMS key instead of SSE-S3 and SSE-SQS."
  type        = bool
  default     = false
}

variable "alert_email" {
  description = "Email address for alerts (dead letters, function errors); null for none."
  type        = string
  default     = null
}

variable "alt_text_provider" {
  description = "bedrock (default), openai or off."
  type        = string
  default     = "bedrock"
}

variable "alt_text_model" {
  description = "Bedrock model id for alt text."
  type        = string
  default     = "amazon.nova-lite-v1:0"
}
