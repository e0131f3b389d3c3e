import dagster as dg
from pydantic import Field

from health_pipeline.defs.common import OWNER
from health_pipeline.erasure import ErasureFailed, erase
from health_pipeline.stack import Stack

SUMMARY_ASSETS = (dg.AssetKey("daily_health_summary"), dg.AssetKey("daily_summary_csv"))


class UserErasureConfig(dg.Config):
    user_ids: list[str] = Field(description="The user_id of each person to erase, exactly as the app sends it.")
    reason: str = Field(default="", description="Why (kept in the receipt): the request's reference, not the person.")


@dg.op(tags={"owner": OWNER}, pool="athena")
def erase_users(context: dg.OpExecutionContext, config: UserErasureConfig, stack: dg.ResourceParam[Stack]) -> dict:
    """Erase the people's records, summaries, exports, spool and error output (docs/operations/erasure.md);
    the receipt is this step's output metadata and a JSON document the stack keeps."""
    try:
        receipt = erase(stack, stack.settings, config.user_ids, config.reason or None, log=context.log.info)
    except (ErasureFailed, ValueError) as err:
        raise dg.Failure(str(err), allow_retries=False) from err
    for day in receipt.days_reexported:
        for key in SUMMARY_ASSETS:  # the days' summary and CSV were written again, without the people
            context.log_event(
                dg.AssetMaterialization(asset_key=key, partition=day, metadata={"erasure_request": receipt.request_id})
            )
    context.add_output_metadata(
        {
            "request_id": receipt.request_id,
            "user_id_sha256": ", ".join(receipt.user_id_sha256),
            "rows_deleted": dg.MetadataValue.json(receipt.rows_deleted),
            "days_reexported": ", ".join(receipt.days_reexported) or "none",
            "bytes_gone_by": receipt.bytes_gone_by,
            "receipt": dg.MetadataValue.path(receipt.location or ""),
            "details": dg.MetadataValue.json(receipt.details),
        }
    )
    return {"request_id": receipt.request_id, "receipt": receipt.location}


@dg.job(
    description=(
        "Erase people's data on request (APPI): their records, the days' summaries and CSVs, kept rows, spool"
        " and error output; keeps a receipt. Launch from the Launchpad with ops.erase_users.config.user_ids."
    ),
    tags={"health-pipeline/exclusive": "user_erasure"},
)
def user_erasure():
    erase_users()
