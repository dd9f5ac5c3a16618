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
  description = "Bedrock model for alt text: a foundation model id (amazon.nova-lite-v1:0, the default), or a cross-Region inference profile id such as us.amazon.nova-lite-v1:0, eu.amazon.nova-lite-v1:0 or global.anthropic.claude-haiku-4-5-20251001-v1:0 (the module grants the profile and the model in the Regions it routes to)."
  type        = string
  default     = "amazon.nova-lite-v1:0"
}

variable "alt_text_model_regions" {
  description = "Regions an inference profile routes to, when they differ from the module's table for its geography (aws bedrock get-inference-profile lists them). null: the table."
  type        = list(string)
  default     = null
}

variable "alt_text_model_arns" {
  description = "The exact ARNs the alt-text function may invoke, replacing what the module derives from alt_text_model (an application inference profile, say). null: derived."
  type        = list(string)
  default     = null
}

variable "alt_text_marketplace_product_ids" {
  description = "AWS Marketplace product ids of a third-party model (Claude...), so that its first call can subscribe the account. Amazon's models need none."
  type        = list(string)
  default     = []
}

variable "alt_text_language" {
  description = "Language of the alt text, a BCP 47 tag (en, fr, pt-BR)."
  type        = string
  default     = "en"
}

variable "alt_text_maximum_concurrency" {
  description = "Most concurrent alt-text invocations (2 or more; null: no cap): with the batch size, bounds the requests the model gets at once."
  type        = number
  default     = 5

  validation {
    condition     = var.alt_text_maximum_concurrency == null || try(var.alt_text_maximum_concurrency >= 2, false)
    error_message = "alt_text_maximum_concurrency must be 2 or more, or null."
  }
}

variable "thumbnail_maximum_concurrency" {
  description = "Most concurrent thumbnail invocations (2 or more; null: no cap)."
  type        = number
  default     = null

  validation {
    condition     = var.thumbnail_maximum_concurrency == null || try(var.thumbnail_maximum_concurrency >= 2, false)
    error_message = "thumbnail_maximum_concurrency must be 2 or more, or null."
  }
}

variable "log_level" {
  description = "Log level of the functions: DEBUG, INFO, WARN, ERROR, CRITICAL or SILENT."
  type        = string
  default     = "INFO"
}

variable "tracing" {
  description = "X-Ray tracing of the functions (off by default)."
  type        = bool
  default     = false
}

variable "cdn_signed_url_public_keys" {
  description = "Public keys (name => PEM) whose signed URLs the thumbnails CDN accepts; empty: the CDN serves unsigned URLs."
  type        = map(string)
  default     = {}
}

variable "upload_token_sha256" {
  description = "SHA-256 digests of the bearer tokens of browser uploads (printf %s \"$TOKEN\" | sha256sum). Empty: no upload API."
  type        = list(string)
  default     = []
}

variable "upload_allowed_origins" {
  description = "Origins of the pages that may upload, e.g. [\"https://photos.example.com\"] or [\"http://localhost:8000\"] to try the page locally."
  type        = list(string)
  default     = []
}
