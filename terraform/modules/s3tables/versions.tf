terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.25 is the first release known to have the aws_s3tables_table `metadata` block used here.
      version = ">= 6.25, < 7.0"
    }
  }
}
