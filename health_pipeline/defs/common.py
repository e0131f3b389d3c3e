"""What every asset of the code location shares: its owner and the settings it was loaded with."""

from health_pipeline.settings import load_settings

OWNER = "team:health-pipeline"
SETTINGS = load_settings()
