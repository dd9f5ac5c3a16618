# Defaults that name things or tune the queues equal src/aws/resources.json (the emulator's
# source of truth); test/terraform/resources.test.ts fails when the two drift apart.

################################################################################
# Naming and packages
################################################################################

variable "prefix" {
  description = "Prefix of every resource name: buckets are <prefix>-originals, <prefix>-thumbnails and <prefix>-alt-text, queues <prefix>-thumbnail and <prefix>-thumbnail-dlq, and so on. Bucket names are global: pick a prefix of your own (the example adds the account id)."
  type        = string
  default     = "thumbnailer"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,40}[a-z0-9]$", var.prefix))
    error_message = "The prefix must be 2 to 42 characters of lower-case letters, digits and hyphens, starting and ending with a letter or digit (it becomes part of S3 bucket names)."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

variable "lambda_package_dir" {
  description = "Directory holding thumbnail.zip, alt-text.zip, failover.zip and build.json, as written by `npm run build:lambda` (dist/lambda-packages in the repository)."
  type        = string

  validation {
    condition     = length(trimspace(var.lambda_package_dir)) > 0
    error_message = "lambda_package_dir must name the directory `npm run build:lambda` wrote (dist/lambda-packages)."
  }
}

variable "architecture" {
  description = "Lambda instruction set: arm64 (default, cheaper per GB-second) or x86_64. The packages must be built for it: npm run build:lambda -- --arch arm64|x64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

################################################################################
# Buckets
################################################################################

variable "existing_originals_bucket" {
  description = "Name of an existing bucket to use for originals instead of creating <prefix>-originals. The module then manages only its event notification (which replaces any notification configuration the bucket already has); its encryption, versioning and policies stay yours."
  type        = string
  default     = null

  validation {
    condition     = var.existing_originals_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.existing_originals_bucket))
    error_message = "existing_originals_bucket must be a valid S3 bucket name (or null to create one)."
  }
}

variable "existing_thumbnails_bucket" {
  description = "Name of an existing bucket to use for thumbnails (and failure records under failures/) instead of creating <prefix>-thumbnails. It must not be the originals bucket (refused at plan: its renditions would raise events of their own, and the workers would take every original for an output)."
  type        = string
  default     = null

  validation {
    condition     = var.existing_thumbnails_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.existing_thumbnails_bucket))
    error_message = "existing_thumbnails_bucket must be a valid S3 bucket name (or null to create one)."
  }
}

variable "existing_alt_text_bucket" {
  description = "Name of an existing bucket to use for alt text instead of creating <prefix>-alt-text. It must not be the originals bucket."
  type        = string
  default     = null

  validation {
    condition     = var.existing_alt_text_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.existing_alt_text_bucket))
    error_message = "existing_alt_text_bucket must be a valid S3 bucket name (or null to create one)."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the created buckets with every object and object version in them. For test stacks only: it makes the originals (versioned) disposable."
  type        = bool
  default     = false
}

variable "originals_filter_prefix" {
  description = "Only originals whose key starts with this prefix raise events (null: every key)."
  type        = string
  default     = null
}

variable "originals_filter_suffixes" {
  description = "Only originals whose key ends with one of these suffixes raise events, e.g. [\".jpg\", \".jpeg\", \".png\", \".heic\"] (S3 matches case-sensitively). Empty: every key."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.originals_filter_suffixes) == length(distinct(var.originals_filter_suffixes))
    error_message = "originals_filter_suffixes must not repeat a suffix (S3 rejects overlapping notification filters)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a replaced or deleted original's old version is removed (the originals bucket is versioned). null keeps old versions forever."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days == null || try(var.noncurrent_version_expiration_days >= 1, false)
    error_message = "noncurrent_version_expiration_days must be at least 1, or null."
  }
}

variable "tombstone_expiration_days" {
  description = "Days a deleted original's tombstones (its K/manifest.json and K.json, tagged thumbnailer=tombstone, holding only the delete's sequencer and time) stay in the thumbnails and alt-text buckets this module creates. Longer than any event of the key can wait: SQS keeps a message 14 days at most. For a bucket passed in, add the same lifecycle rule yourself."
  type        = number
  default     = 30

  validation {
    condition     = var.tombstone_expiration_days >= 15 && var.tombstone_expiration_days <= 3650 && floor(var.tombstone_expiration_days) == var.tombstone_expiration_days
    error_message = "tombstone_expiration_days must be a whole number of days from 15 (longer than SQS's longest retention, 14 days) to 3650."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted (and their parts deleted) in every created bucket."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "originals_expiration_days" {
  description = "Days after which originals expire (become noncurrent). null (default) keeps them; a test stack may set a few days."
  type        = number
  default     = null

  validation {
    condition     = var.originals_expiration_days == null || try(var.originals_expiration_days >= 1, false)
    error_message = "originals_expiration_days must be at least 1, or null."
  }
}

################################################################################
# Encryption
################################################################################

variable "create_kms_key" {
  description = "Create a customer-managed KMS key (rotation on) for the buckets, queues and topics, with a key policy that lets S3, SNS and CloudWatch use it from this account. false: SSE-S3 for buckets, SSE-SQS for queues, topics unencrypted (unless kms_key_arn is set)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "ARN of an existing KMS key to use instead of SSE-S3/SSE-SQS. Its key policy must let s3.amazonaws.com, sns.amazonaws.com and cloudwatch.amazonaws.com use kms:GenerateDataKey* and kms:Decrypt (see the key policy in kms.tf). Ignored when create_kms_key is true."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before a created KMS key is deleted after terraform destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30."
  }
}

################################################################################
# Queues
################################################################################

variable "function_timeout_seconds" {
  description = "Timeout of the thumbnail and alt-text functions. 60 s renders a 24-megapixel JPEG's renditions with a wide margin at the default memory."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout_seconds >= 3 && var.function_timeout_seconds <= 900
    error_message = "function_timeout_seconds must be between 3 and 900 (the Lambda maximum)."
  }
}

variable "visibility_timeout_multiplier" {
  description = "Each queue's visibility timeout is this many times the timeout of the function consuming it. AWS recommends at least 6 for SQS event source mappings, so that retries of a throttled batch do not redeliver messages still being worked on."
  type        = number
  default     = 6

  validation {
    condition     = var.visibility_timeout_multiplier >= 6
    error_message = "visibility_timeout_multiplier must be at least 6 (AWS's recommendation for SQS event source mappings)."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves from its queue to the queue's dead-letter queue (each receive is one attempt)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the thumbnail and alt-text queues keep a message (4 days, SQS's default). Keep it below dlq_retention_seconds: a message keeps its first enqueue time in the DLQ."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queues keep a message (14 days, the SQS maximum): time to read the failure record, fix the cause and redrive."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

################################################################################
# Functions
################################################################################

variable "batch_size" {
  description = "Messages per invocation of each function (the SQS event source mappings' batch size). Records fail individually (ReportBatchItemFailures)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long an event source mapping may wait to fill a batch (0: invoke as soon as a message arrives). Must be at least 1 when batch_size is over 10."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "thumbnail_maximum_concurrency" {
  description = "Most concurrent invocations the thumbnail queue's event source mapping starts (2 to 1000; null: no limit but the account's). Prefer this to reserved concurrency for SQS: it slows polling instead of throttling invocations, so messages wait in the queue rather than burning receives."
  type        = number
  default     = null

  validation {
    condition     = var.thumbnail_maximum_concurrency == null || try(var.thumbnail_maximum_concurrency >= 2 && var.thumbnail_maximum_concurrency <= 1000, false)
    error_message = "thumbnail_maximum_concurrency must be between 2 and 1000, or null."
  }
}

variable "alt_text_maximum_concurrency" {
  description = "Most concurrent invocations the alt-text queue's event source mapping starts (2 to 1000; null: no limit). This bounds the model's load in a bulk import: the records of a batch are described concurrently, so the model gets at most this times batch_size requests at once (50 by default), instead of as many as Lambda scales to. Set it, with batch_size, under the account's Bedrock quotas for the model (requests and tokens per minute)."
  type        = number
  default     = 5

  validation {
    condition     = var.alt_text_maximum_concurrency == null || try(var.alt_text_maximum_concurrency >= 2 && var.alt_text_maximum_concurrency <= 1000, false)
    error_message = "alt_text_maximum_concurrency must be between 2 and 1000, or null."
  }
}

variable "failover_maximum_concurrency" {
  description = "Most concurrent invocations of the failover function per dead-letter queue (2, the minimum, by default): fewer concurrent failovers, fewer alert digests racing each other in a bulk failure."
  type        = number
  default     = 2

  validation {
    condition     = var.failover_maximum_concurrency >= 2 && var.failover_maximum_concurrency <= 1000
    error_message = "failover_maximum_concurrency must be between 2 and 1000."
  }
}

variable "thumbnail_memory_size" {
  description = "Memory of the thumbnail function in MB. 2048 MB holds a 24-megapixel photo decoded (6000 x 4000 RGB is 72 MB, plus sharp's pipeline) with room to spare, and buys more CPU: Lambda allocates CPU in proportion to memory."
  type        = number
  default     = 2048

  validation {
    condition     = var.thumbnail_memory_size >= 512 && var.thumbnail_memory_size <= 10240
    error_message = "thumbnail_memory_size must be between 512 and 10240 MB."
  }
}

variable "alt_text_memory_size" {
  description = "Memory of the alt-text function in MB (it downsizes the photo before sending it to the model)."
  type        = number
  default     = 1024

  validation {
    condition     = var.alt_text_memory_size >= 256 && var.alt_text_memory_size <= 10240
    error_message = "alt_text_memory_size must be between 256 and 10240 MB."
  }
}

variable "failover_memory_size" {
  description = "Memory of the failover function in MB (it writes small JSON records and publishes alerts)."
  type        = number
  default     = 256

  validation {
    condition     = var.failover_memory_size >= 128 && var.failover_memory_size <= 10240
    error_message = "failover_memory_size must be between 128 and 10240 MB."
  }
}

variable "failover_timeout_seconds" {
  description = "Timeout of the failover function."
  type        = number
  default     = 30

  validation {
    condition     = var.failover_timeout_seconds >= 3 && var.failover_timeout_seconds <= 900
    error_message = "failover_timeout_seconds must be between 3 and 900."
  }
}

variable "thumbnail_reserved_concurrency" {
  description = "Reserved concurrency of the thumbnail function: -1 (default) reserves none, 0 stops it, N caps and guarantees N concurrent executions."
  type        = number
  default     = -1

  validation {
    condition     = var.thumbnail_reserved_concurrency >= -1
    error_message = "thumbnail_reserved_concurrency must be -1 (no reservation) or more."
  }
}

variable "alt_text_reserved_concurrency" {
  description = "Reserved concurrency of the alt-text function (-1: none). A low cap keeps the model's request rate under its quota."
  type        = number
  default     = -1

  validation {
    condition     = var.alt_text_reserved_concurrency >= -1
    error_message = "alt_text_reserved_concurrency must be -1 (no reservation) or more."
  }
}

variable "failover_reserved_concurrency" {
  description = "Reserved concurrency of the failover function (-1: none)."
  type        = number
  default     = -1

  validation {
    condition     = var.failover_reserved_concurrency >= -1
    error_message = "failover_reserved_concurrency must be -1 (no reservation) or more."
  }
}

variable "environment" {
  description = "Extra environment variables for the thumbnail function, e.g. THUMBNAILER_MAX_INPUT_PIXELS (the limits of README's Configuration section)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "Log level of every function: POWERTOOLS_LOG_LEVEL, and the Lambda application log level (logging_config), so that Lambda drops what Powertools would not write (CRITICAL and SILENT are Lambda's FATAL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "SILENT"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARN, ERROR, CRITICAL, SILENT."
  }
}

variable "tracing" {
  description = "AWS X-Ray tracing: each function's tracing mode Active, the X-Ray write permissions, and the Powertools Tracer in the handlers (a subsegment per batch, the S3, SQS, SNS and Bedrock calls within it). Off by default: the tracer is then never loaded, and cold starts stay as measured."
  type        = bool
  default     = false
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' Powertools metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "Thumbnailer"

  validation {
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255
    error_message = "metrics_namespace must be 1 to 255 characters."
  }
}

################################################################################
# Alt text
################################################################################

variable "alt_text_provider" {
  description = "Who writes alt text: bedrock (Amazon Bedrock, the default on AWS), openai (an OpenAI-compatible endpoint, configured through alt_text_environment) or off (records say not-configured)."
  type        = string
  default     = "bedrock"

  validation {
    condition     = contains(["bedrock", "openai", "off"], var.alt_text_provider)
    error_message = "alt_text_provider must be bedrock, openai or off."
  }
}

variable "alt_text_model" {
  description = "Bedrock model id (ALT_TEXT_MODEL): a foundation model such as amazon.nova-lite-v1:0 (the default), or an inference profile id or ARN. Enable access to it in the Bedrock console of the region first."
  type        = string
  default     = "amazon.nova-lite-v1:0"

  validation {
    condition     = length(var.alt_text_model) > 0
    error_message = "alt_text_model must not be empty."
  }
}

variable "alt_text_model_arns" {
  description = "ARNs the alt-text function may call bedrock:InvokeModel on, replacing what the module derives from alt_text_model (for an application inference profile, say). null: the foundation model in this region; for a cross-Region inference profile id (us., eu., apac., global. ...), the profile and the foundation model in every Region it routes to, through that profile only."
  type        = list(string)
  default     = null

  validation {
    condition     = alltrue([for arn in(var.alt_text_model_arns == null ? [] : var.alt_text_model_arns) : can(regex("^arn:aws[a-z-]*:bedrock:", arn)) && !strcontains(arn, "*")])
    error_message = "alt_text_model_arns must be Bedrock ARNs (arn:aws:bedrock:...) without wildcards."
  }
}

variable "alt_text_model_regions" {
  description = "Regions a cross-Region inference profile (alt_text_model = us.…, eu.…, apac.…) may route to, whose foundation-model ARNs the function is granted through that profile only. null: the module's table of each geography's Regions (main.tf, from AWS's documentation). Check a profile's own list with: aws bedrock get-inference-profile --inference-profile-identifier <id> (its models field)."
  type        = list(string)
  default     = null

  validation {
    condition     = alltrue([for region in(var.alt_text_model_regions == null ? [] : var.alt_text_model_regions) : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", region))])
    error_message = "alt_text_model_regions must be Region names such as us-east-1."
  }
}

variable "alt_text_marketplace_product_ids" {
  description = "AWS Marketplace product ids of a third-party model (Anthropic's Claude, for one) that the alt-text function may subscribe to on its first call: aws-marketplace:Subscribe for those products only (the aws-marketplace:ProductId condition) and aws-marketplace:ViewSubscriptions. Empty (default): no Marketplace permission, as Amazon's own models (Nova) need none; an account already subscribed needs none either."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.alt_text_marketplace_product_ids : can(regex("^[A-Za-z0-9-]+$", id))])
    error_message = "alt_text_marketplace_product_ids must be product ids such as prod-abcdefgh12345."
  }
}

variable "alt_text_language" {
  description = "Language of the alt text (ALT_TEXT_LANGUAGE), a BCP 47 tag such as en or fr."
  type        = string
  default     = "en"

  validation {
    condition     = can(regex("^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$", var.alt_text_language))
    error_message = "alt_text_language must be a BCP 47 language tag such as en, fr or pt-BR."
  }
}

variable "alt_text_environment" {
  description = "Extra environment variables for the alt-text function (e.g. the endpoint and model of an OpenAI-compatible provider). Do not put secrets here: they are visible to anyone who can read the function's configuration."
  type        = map(string)
  default     = {}
}

################################################################################
# Logs and alarms
################################################################################

variable "log_retention_in_days" {
  description = "Days each function's CloudWatch log group keeps its logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)."
  }
}

variable "alert_email" {
  description = "Email address subscribed to the alerts topic (alarms, and digests of dead letters and of a model refusing the alt-text function). The address must confirm the subscription. null: no subscription."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address, or null."
  }
}

variable "error_alarm_threshold" {
  description = "A function's error alarm fires when its Errors metric exceeds this many in error_alarm_period_seconds. Records reported in batchItemFailures are not errors: only crashed or timed-out invocations count."
  type        = number
  default     = 0

  validation {
    condition     = var.error_alarm_threshold >= 0
    error_message = "error_alarm_threshold must be 0 or more."
  }
}

variable "error_alarm_period_seconds" {
  description = "Period of the function error alarms."
  type        = number
  default     = 300

  validation {
    condition     = var.error_alarm_period_seconds >= 60 && var.error_alarm_period_seconds % 60 == 0
    error_message = "error_alarm_period_seconds must be a multiple of 60."
  }
}

variable "permanent_failures_alarm_threshold" {
  description = "The PermanentFailures alarm of a worker (images that cannot be processed: corrupt, too large, refused; alt text refused or the model denied) fires when more than this many happen in error_alarm_period_seconds."
  type        = number
  default     = 0

  validation {
    condition     = var.permanent_failures_alarm_threshold >= 0
    error_message = "permanent_failures_alarm_threshold must be 0 or more."
  }
}

variable "queue_age_alarm_seconds" {
  description = "A work queue's age alarm fires when its oldest message has waited longer than this (ApproximateAgeOfOldestMessage): the workers are not keeping up, throttled, capped or failing."
  type        = number
  default     = 1800

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds must be at least 60."
  }
}

variable "alert_digest_seconds" {
  description = "The failover and alt-text functions publish at most one alert digest per queue in this many seconds (ALERT_DIGEST_SECONDS): a bulk failure sends a few digests with counts per error code and example keys, not one message per image. What comes in between is held for the next digest; the records and the alarms keep everything."
  type        = number
  default     = 300

  validation {
    condition     = var.alert_digest_seconds >= 60 && var.alert_digest_seconds <= 86400
    error_message = "alert_digest_seconds must be between 60 and 86400."
  }
}

################################################################################
# Serving: the CDN
################################################################################

variable "cdn_enabled" {
  description = "Put a CloudFront distribution in front of the thumbnails bucket (origin access control, SigV4): renditions and manifests served over HTTPS only, cached as their Cache-Control says (renditions a year, immutable; manifests revalidated). The bucket stays private: its policy lets this distribution alone read renditions and manifests, never the failure records under failures/."
  type        = bool
  default     = false
}

variable "cdn_price_class" {
  description = "CloudFront price class of the distribution: PriceClass_100 (North America and Europe, the cheapest), PriceClass_200 or PriceClass_All (every edge location)."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cdn_price_class)
    error_message = "cdn_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "cdn_signed_url_public_keys" {
  description = "Signed URLs: name => public key (PEM, RSA 2048, \"-----BEGIN PUBLIC KEY-----...\") of the keys whose signatures the distribution accepts; empty (default): every URL is served unsigned. With keys, the distribution refuses (403) any URL not signed with one of their private keys; sign with the cdn_public_key_ids output as Key-Pair-Id (e.g. @aws-sdk/cloudfront-signer). At most 5 (a key group's limit)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.cdn_signed_url_public_keys) <= 5 && alltrue([for name, pem in var.cdn_signed_url_public_keys : can(regex("^[A-Za-z0-9_-]{1,64}$", name)) && startswith(trimspace(pem), "-----BEGIN PUBLIC KEY-----") && endswith(trimspace(pem), "-----END PUBLIC KEY-----")])
    error_message = "cdn_signed_url_public_keys: at most 5 keys, each named with letters, digits, - and _ and given as a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)."
  }
}

################################################################################
# Browser uploads
################################################################################

variable "uploads_enabled" {
  description = "An HTTP API and function for browser uploads: POST /uploads with a bearer token answers a presigned POST (key uploads/YYYY/MM/DD/<id>/<name>, the originals' byte limit and an image type in the signature), so a page uploads straight to the originals bucket. Needs upload_token_sha256 and upload_allowed_origins."
  type        = bool
  default     = false
}

variable "upload_token_sha256" {
  description = "SHA-256 digests (64 hex digits) of the bearer tokens the upload function accepts, e.g. from printf %s \"$TOKEN\" | sha256sum: the tokens themselves never reach Terraform's state. Two during a rotation."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for digest in var.upload_token_sha256 : can(regex("^[0-9a-f]{64}$", digest))])
    error_message = "upload_token_sha256 must hold SHA-256 digests in lower-case hex, 64 digits each (printf %s \"$TOKEN\" | sha256sum), not the tokens."
  }
}

variable "upload_allowed_origins" {
  description = "Origins of the pages that may upload (CORS of the function and of the originals bucket), e.g. [\"https://photos.example.com\"]: scheme, host and port, no path. Another page's request is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.upload_allowed_origins : can(regex("^https?://[^/*\\s]+$", origin))])
    error_message = "upload_allowed_origins must be origins such as https://photos.example.com (no path, no trailing slash, no wildcard)."
  }
}

variable "upload_expires_seconds" {
  description = "How long a presigned POST may be used (UPLOAD_EXPIRES_SECONDS): time to start the upload, not to finish it."
  type        = number
  default     = 300

  validation {
    condition     = var.upload_expires_seconds >= 10 && var.upload_expires_seconds <= 3600
    error_message = "upload_expires_seconds must be between 10 and 3600."
  }
}

variable "upload_throttling_rate_limit" {
  description = "Requests per second the uploads API accepts, steady state (its stage's throttling); more are answered 429."
  type        = number
  default     = 10

  validation {
    condition     = var.upload_throttling_rate_limit >= 1 && var.upload_throttling_rate_limit <= 10000
    error_message = "upload_throttling_rate_limit must be between 1 and 10000."
  }
}

variable "upload_throttling_burst_limit" {
  description = "Requests the uploads API accepts in a burst (its stage's throttling)."
  type        = number
  default     = 50

  validation {
    condition     = var.upload_throttling_burst_limit >= 1 && var.upload_throttling_burst_limit <= 5000
    error_message = "upload_throttling_burst_limit must be between 1 and 5000."
  }
}

variable "upload_reserved_concurrency" {
  description = "Reserved concurrency of the upload function: -1 (default) reserves none, 0 stops it, N caps and guarantees N concurrent executions."
  type        = number
  default     = -1

  validation {
    condition     = var.upload_reserved_concurrency >= -1
    error_message = "upload_reserved_concurrency must be -1 (none) or more."
  }
}
