"""Edits to a temporary copy of the Terraform S3 Tables module's declared columns, made as a person
would make them."""

from pathlib import Path


def set_column(terraform_dir: Path, name: str, glue_type: str, replace: str | None = None) -> None:
    """Edit the temporary S3 Tables module's local.columns as a person would: add a column, or change
    one's type."""
    main = terraform_dir / "modules" / "s3tables" / "main.tf"
    text = main.read_text()
    if replace:
        old = f'{{ name = "{name}", type = "{replace}" }}'
        assert old in text
        text = text.replace(old, f'{{ name = "{name}", type = "{glue_type}" }}')
    else:
        anchor = '    { name = "flags", type = "int" },\n'
        assert anchor in text
        text = text.replace(anchor, anchor + f'    {{ name = "{name}", type = "{glue_type}" }},\n')
    main.write_text(text)
