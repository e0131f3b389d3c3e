"""Edits to a temporary copy of the Terraform Glue module, made as a person would make them."""

from pathlib import Path


def set_column(terraform_dir: Path, name: str, glue_type: str, replace: str | None = None) -> None:
    """Edit the temporary Glue module as a person would: add a column, or change one's type."""
    main = terraform_dir / "modules" / "glue" / "main.tf"
    text = main.read_text()
    if replace:
        old = f'name = "{name}"\n      type = "{replace}"'
        assert old in text
        text = text.replace(old, f'name = "{name}"\n      type = "{glue_type}"')
    else:
        anchor = '      name = "flags"\n      type = "int"\n    }'
        text = text.replace(
            anchor, anchor + f'\n    columns {{\n      name = "{name}"\n      type = "{glue_type}"\n    }}'
        )
    main.write_text(text)
