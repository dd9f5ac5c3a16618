terraform {
  # optional() object attributes, lifecycle preconditions and provider-defined functions are all older than 1.5.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function arrived in 5.26; scaling_config on SQS mappings in 5.x.
      version = ">= 5.40"
    }
  }
}
