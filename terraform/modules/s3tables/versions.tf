terraform {
  # removed blocks (the table's move from aws_s3tables_table to awscc_s3tables_table) need 1.7.
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.29: the floor of every module (Lake Formation grants on the s3tablescatalog sub-catalog's
      # databases and tables work from it: terraform-provider-aws issue 48358).
      version = ">= 6.29, < 7.0"
    }
    awscc = {
      source = "hashicorp/awscc"
      # 1.72 is the first release whose awscc_s3tables_table has iceberg_partition_spec and
      # iceberg_sort_order (CloudFormation schema of 2026-02-18).
      version = ">= 1.72, < 2.0"
    }
  }
}
