data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id

  # The names of src/aws/resources.json, composed as src/aws/resources.ts composes them:
  # "${prefix}-${name}". test/terraform/resources.test.ts keeps the two equal.
  names = {
    originals_bucket  = "${var.prefix}-originals"
    thumbnails_bucket = "${var.prefix}-thumbnails"
    alt_text_bucket   = "${var.prefix}-alt-text"
    events_topic      = "${var.prefix}-events"
    alerts_topic      = "${var.prefix}-alerts"
    thumbnail_queue   = "${var.prefix}-thumbnail"
    thumbnail_dlq     = "${var.prefix}-thumbnail-dlq"
    alt_text_queue    = "${var.prefix}-alt-text"
    alt_text_dlq      = "${var.prefix}-alt-text-dlq"
  }

  # Buckets: created unless an existing one is passed in.
  existing_buckets = {
    originals  = var.existing_originals_bucket
    thumbnails = var.existing_thumbnails_bucket
    alt_text   = var.existing_alt_text_bucket
  }
  default_bucket_names = {
    originals  = local.names.originals_bucket
    thumbnails = local.names.thumbnails_bucket
    alt_text   = local.names.alt_text_bucket
  }
  created_buckets = { for role, name in local.default_bucket_names : role => name if local.existing_buckets[role] == null }
  bucket_names    = { for role, name in local.default_bucket_names : role => coalesce(local.existing_buckets[role], name) }
  bucket_arns     = { for role, name in local.bucket_names : role => "arn:${local.partition}:s3:::${name}" }
  # The same names, but known only once a created bucket exists: for what must come after it.
  bucket_ids = { for role, name in local.bucket_names : role => try(aws_s3_bucket.this[role].id, name) }

  # Encryption: a created key, a key passed in, or the services' own keys (SSE-S3, SSE-SQS).
  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  use_kms     = var.create_kms_key || var.kms_key_arn != null
}

################################################################################
# S3 buckets: public access blocked, TLS only, encrypted, originals versioned
################################################################################

resource "aws_s3_bucket" "this" {
  for_each = local.created_buckets

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = local.use_kms ? local.kms_key_arn : null
    }
    # S3 Bucket Keys: one KMS request per bucket key instead of one per object.
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_versioning" "originals" {
  for_each = { for role, bucket in aws_s3_bucket.this : role => bucket if role == "originals" }

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  dynamic "rule" {
    for_each = each.key == "originals" && var.noncurrent_version_expiration_days != null ? [var.noncurrent_version_expiration_days] : []
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {}
      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = each.key == "originals" && var.originals_expiration_days != null ? [var.originals_expiration_days] : []
    content {
      id     = "expire-originals"
      status = "Enabled"
      filter {}
      expiration {
        days = rule.value
      }
    }
  }

  # A delete leaves a tombstone where the image's manifest (K/manifest.json) and alt text (K.json)
  # were, tagged thumbnailer=tombstone: it keeps creates older than the delete from bringing the
  # files back, and holds nothing of the image. It goes once no such create can still come.
  dynamic "rule" {
    for_each = contains(["thumbnails", "alt_text"], each.key) ? [var.tombstone_expiration_days] : []
    content {
      id     = "expire-tombstones"
      status = "Enabled"
      filter {
        tag {
          key   = "thumbnailer"
          value = "tombstone"
        }
      }
      expiration {
        days = rule.value
      }
    }
  }

  # Versioning must exist before a rule about noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.originals]
}

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  # The thumbnails bucket: read by the CDN's distribution, renditions and manifests only (cdn.tf).
  source_policy_documents = each.key == "thumbnails" && local.cdn_enabled ? [data.aws_iam_policy_document.cdn_read[0].json] : []

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  # S3 rejects concurrent changes to a bucket's public access block and policy.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
