################################################################################
# CDN (cdn_enabled): CloudFront in front of the thumbnails bucket, through origin access
# control. The bucket stays private (Block Public Access on): its policy lets this distribution
# read renditions (K/<revision>/<preset>.<ext>) and manifests (K/manifest.json), never the
# failure records under failures/. Renditions are cached as long as their Cache-Control says (a
# year, immutable: their keys change with every write), manifests revalidated (no-cache).
################################################################################

locals {
  cdn_enabled = var.cdn_enabled
  # A bucket the module created knows its regional domain; one passed in is named by convention.
  thumbnails_regional_domain = try(
    aws_s3_bucket.this["thumbnails"].bucket_regional_domain_name,
    "${local.bucket_names.thumbnails}.s3.${local.region}.${data.aws_partition.current.dns_suffix}",
  )
  cdn_signed_urls = local.cdn_enabled && length(var.cdn_signed_url_public_keys) > 0
  # AWS's managed response headers policy "SecurityHeadersPolicy": nosniff, HSTS, frame and
  # referrer options (the headers the local server sends, and more).
  security_headers_policy_id = "67f7725c-6f97-4210-82d7-5512b31e9d03"
}

resource "aws_cloudfront_origin_access_control" "thumbnails" {
  count = local.cdn_enabled ? 1 : 0

  name                              = "${var.prefix}-thumbnails"
  description                       = "CloudFront signs its requests to ${local.bucket_names.thumbnails} (SigV4)"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# The origin's Cache-Control decides (min TTL 0, so that no-cache holds; max a year, the
# renditions' max-age); no cookie, header or query string in the cache key, so a signed URL's
# query (Expires, Signature, Key-Pair-Id) never splits the cache.
resource "aws_cloudfront_cache_policy" "thumbnails" {
  count = local.cdn_enabled ? 1 : 0

  name        = "${var.prefix}-thumbnails"
  comment     = "Thumbnailer: the origin's Cache-Control (renditions a year, immutable; manifests no-cache)"
  min_ttl     = 0
  default_ttl = 86400
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# Signed URLs (cdn_signed_url_public_keys): the distribution serves only URLs signed with the
# private key of one of these public keys (their ids are the Key-Pair-Id to sign with).
resource "aws_cloudfront_public_key" "signed_urls" {
  for_each = local.cdn_enabled ? var.cdn_signed_url_public_keys : {}

  name        = "${var.prefix}-${each.key}"
  comment     = "Thumbnailer (${var.prefix}): signs URLs of the thumbnails"
  encoded_key = each.value
}

resource "aws_cloudfront_key_group" "signed_urls" {
  count = local.cdn_signed_urls ? 1 : 0

  name    = "${var.prefix}-signed-urls"
  comment = "Thumbnailer (${var.prefix}): the keys whose signatures the thumbnails distribution accepts"
  items   = [for key in aws_cloudfront_public_key.signed_urls : key.id]
}

resource "aws_cloudfront_distribution" "thumbnails" {
  count = local.cdn_enabled ? 1 : 0

  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  comment         = "Thumbnailer (${var.prefix}): renditions and manifests of ${local.bucket_names.thumbnails}"
  price_class     = var.cdn_price_class

  origin {
    origin_id                = "thumbnails"
    domain_name              = local.thumbnails_regional_domain
    origin_access_control_id = aws_cloudfront_origin_access_control.thumbnails[0].id
  }

  default_cache_behavior {
    target_origin_id           = "thumbnails"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.thumbnails[0].id
    response_headers_policy_id = local.security_headers_policy_id
    trusted_key_groups         = local.cdn_signed_urls ? [aws_cloudfront_key_group.signed_urls[0].id] : []
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = var.tags
}

# The distribution, and only it, may read what it serves: renditions (K/<revision>/..., a
# revision is 16 characters) and manifests, never the failure records (failures/, keys, errors
# and alert state). No s3:ListBucket: a missing key is a 403, and the bucket's listing stays private.
data "aws_iam_policy_document" "cdn_read" {
  count = local.cdn_enabled ? 1 : 0

  statement {
    sid     = "CloudFrontReadsRenditionsAndManifests"
    actions = ["s3:GetObject"]
    resources = [
      "${local.bucket_arns.thumbnails}/*/manifest.json",
      "${local.bucket_arns.thumbnails}/*/????????????????/*",
    ]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudfront_distribution.thumbnails[0].arn]
    }
  }

  statement {
    sid       = "CloudFrontNeverReadsFailureRecords"
    effect    = "Deny"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arns.thumbnails}/failures/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
  }
}

# A thumbnails bucket passed in keeps its own policy: these statements must be added to it.
check "cdn_bucket_policy" {
  assert {
    condition     = !local.cdn_enabled || var.existing_thumbnails_bucket == null
    error_message = "The thumbnails bucket ${local.bucket_names.thumbnails} was passed in, so its policy is yours: add the statements of the cdn_bucket_policy_json output to it, or the distribution is refused (403) on every object."
  }
}
