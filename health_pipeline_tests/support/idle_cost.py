"""What the operators' Dagster (terraform/modules/dagster) costs a month while idle, per profile,
computed from the Terraform as support/terraform_hcl.py reads it and the on-demand list prices below.

The prices are AWS's public list prices for ap-northeast-1 (Tokyo), Linux, on demand, as known
when this was written: they are not read from AWS here (no network), so check them with the AWS
Pricing Calculator before relying on a figure. docs/operations/deploying.md shows the same table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from health_pipeline_tests.support.terraform_hcl import Stack, block, everywhere, text

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str


PRICES = {
    "fargate_vcpu_X86_64": Price(0.05056, "vCPU-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_gb_X86_64": Price(0.00553, "GB-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_vcpu_ARM64": Price(0.04045, "vCPU-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_gb_ARM64": Price(0.00442, "GB-hour", "https://aws.amazon.com/fargate/pricing/"),
    "rds_db.t4g.micro": Price(0.025, "hour", "https://aws.amazon.com/rds/postgresql/pricing/"),
    "rds_db.t4g.small": Price(0.051, "hour", "https://aws.amazon.com/rds/postgresql/pricing/"),
    "rds_gp3": Price(0.138, "GB-month", "https://aws.amazon.com/rds/postgresql/pricing/"),
    "alb": Price(0.0243, "hour", "https://aws.amazon.com/elasticloadbalancing/pricing/"),
    "alb_lcu": Price(0.008, "LCU-hour", "https://aws.amazon.com/elasticloadbalancing/pricing/"),
    "public_ipv4": Price(0.005, "address-hour", "https://aws.amazon.com/vpc/pricing/"),
    "nat_gateway": Price(0.062, "hour", "https://aws.amazon.com/vpc/pricing/"),
    "secret": Price(0.40, "secret-month", "https://aws.amazon.com/secrets-manager/pricing/"),
    "hosted_zone": Price(0.50, "zone-month", "https://aws.amazon.com/route53/pricing/"),
    "cloud_map_instance": Price(0.10, "instance-month", "https://aws.amazon.com/cloud-map/pricing/"),
    "logs_ingest": Price(0.76, "GB", "https://aws.amazon.com/cloudwatch/pricing/"),
    "ecr_storage": Price(0.10, "GB-month", "https://aws.amazon.com/ecr/pricing/"),
}
# An idle ALB still answers its health checks and a few operators: a tenth of an LCU.
IDLE_ALB_LCU = 0.1
# Idle output of the Dagster processes (sensor and scheduler ticks) and the images kept in ECR.
IDLE_LOG_GB_PER_MONTH = 0.1
ECR_GB = 0.5
# Monthly idle budgets: small as issue 22 asks; standard at most what its layout always cost.
BUDGET_USD = {"small": 40.0, "standard": 140.0}


@dataclass(frozen=True)
class Item:
    what: str
    size: str
    price: str
    usd: float
    source: str


def _hourly(key: str, amount: float = 1.0) -> float:
    return PRICES[key].usd * amount * HOURS_PER_MONTH


def idle_cost(stack: Stack) -> list[Item]:
    """One Item per line of the bill, from the resources that exist in the stack's profile."""
    items: list[Item] = []
    sizes = stack.value("dagster", "${var.task_sizes}")
    definition = stack.resource("dagster", "aws_ecs_task_definition", "this")
    architecture = stack.value("dagster", block(definition, "runtime_platform")["cpu_architecture"])
    for name, service in sorted(stack.typed("dagster", "resource", "aws_ecs_service").items()):
        component = re.search(r'this\["(\w+)"\]', text(service["task_definition"])).group(1)
        vcpu, gb = sizes[component]["cpu"] / 1024, sizes[component]["memory"] / 1024
        count = stack.value("dagster", service.get("desired_count", 1))
        usd = count * (_hourly(f"fargate_vcpu_{architecture}", vcpu) + _hourly(f"fargate_gb_{architecture}", gb))
        vcpu_price, gb_price = PRICES[f"fargate_vcpu_{architecture}"], PRICES[f"fargate_gb_{architecture}"]
        items.append(
            Item(
                f"ECS service {name}",
                f"Fargate {architecture} {vcpu:g} vCPU, {gb:g} GB",
                f"${vcpu_price.usd} per vCPU-hour, ${gb_price.usd} per GB-hour",
                usd,
                vcpu_price.source,
            )
        )
        if block(service, "network_configuration").get("assign_public_ip") is True:
            items.append(_ipv4(f"{name}'s public address", count))
    db_class = stack.value("dagster", "${local.db_instance_class}")
    assert f"rds_{db_class}" in PRICES, f"no price for {db_class}: add it to health_pipeline_tests/support/idle_cost.py"
    storage = stack.value("dagster", "${var.db_allocated_storage_gb}")
    rds, gp3 = PRICES[f"rds_{db_class}"], PRICES["rds_gp3"]
    items.append(
        Item("PostgreSQL", f"{db_class} Single-AZ", f"${rds.usd} per hour", _hourly(f"rds_{db_class}"), rds.source)
    )
    items.append(Item("its storage", f"{storage} GB gp3", f"${gp3.usd} per GB-month", storage * gp3.usd, gp3.source))
    items.append(
        Item(
            "its password",
            "1 Secrets Manager secret",
            "$0.40 per secret-month",
            PRICES["secret"].usd,
            PRICES["secret"].source,
        )
    )
    for _, _, _ in everywhere(stack, "resource", "aws_lb"):
        alb, lcu = PRICES["alb"], PRICES["alb_lcu"]
        items.append(Item("ALB", "one, nearly no traffic", f"${alb.usd} per hour", _hourly("alb"), alb.source))
        items.append(
            Item(
                "its LCUs",
                f"{IDLE_ALB_LCU} LCU",
                f"${lcu.usd} per LCU-hour",
                _hourly("alb_lcu", IDLE_ALB_LCU),
                lcu.source,
            )
        )
        items.append(_ipv4("the ALB's addresses (one per AZ, two AZs)", 2))
    for _ in stack.typed("dagster", "resource", "aws_service_discovery_private_dns_namespace").values():
        zone, instance = PRICES["hosted_zone"], PRICES["cloud_map_instance"]
        items.append(
            Item("Cloud Map namespace", "a private hosted zone", "$0.50 per zone-month", zone.usd, zone.source)
        )
        items.append(
            Item(
                "Cloud Map service",
                "the code server's 1 instance",
                "$0.10 per instance-month",
                instance.usd,
                instance.source,
            )
        )
    logs, ecr = PRICES["logs_ingest"], PRICES["ecr_storage"]
    items.append(
        Item(
            "CloudWatch Logs",
            f"{IDLE_LOG_GB_PER_MONTH} GB of idle output",
            f"${logs.usd} per GB ingested",
            IDLE_LOG_GB_PER_MONTH * logs.usd,
            logs.source,
        )
    )
    items.append(
        Item("ECR", f"{ECR_GB} GB of images (layers shared)", f"${ecr.usd} per GB-month", ECR_GB * ecr.usd, ecr.source)
    )
    return items


def _ipv4(what: str, addresses: int) -> Item:
    price = PRICES["public_ipv4"]
    return Item(
        what,
        f"{addresses} public IPv4",
        f"${price.usd} per address-hour",
        _hourly("public_ipv4", addresses),
        price.source,
    )


def nat_gateway_usd() -> float:
    """A NAT gateway, which the standard profile's private subnets need if the VPC has none (data extra)."""
    return _hourly("nat_gateway")
