terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.29: Lake Formation grants on the s3tablescatalog sub-catalog (issue 48358); the
      # floor of every module.
      version = ">= 6.29, < 7.0"
    }
    # The partitioned, sorted health_records table (modules/s3tables): awscc_s3tables_table.
    awscc = {
      source  = "hashicorp/awscc"
      version = ">= 1.72, < 2.0"
    }
  }

  # State lives in S3 with native locking (Terraform >= 1.10), never on a laptop. Give the
  # bucket and region at init: terraform init -backend-config="bucket=<state bucket>" -backend-config="region=ap-northeast-1"
  backend "s3" {
    key          = "health-pipeline/prod.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "health-pipeline"
      environment = "prod"
      managed-by  = "terraform"
    }
  }
}

provider "awscc" {
  region = var.region
}
