terraform {
  # Uses lifecycle preconditions (1.2), startswith() (1.3) and validation blocks.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function arrived in 5.26; scaling_config on SQS mappings in 5.x.
      version = ">= 5.40"
    }
  }
}
