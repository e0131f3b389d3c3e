terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.29: Lake Formation grants on the s3tablescatalog sub-catalog (issue 48358); the
      # floor of every module.
      version = ">= 6.29, < 7.0"
    }
  }
}
