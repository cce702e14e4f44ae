import json
from pathlib import Path

# Read NDJSON export files
export_dir = Path("DataExport")
for file in export_dir.glob("*.ndjson"):
    with open(file) as f:
        for line in f:
            event = json.loads(line)
            # Analyze events
            if event['EventType'] == 'combat_stats':
                print(f"Total damage: {event['Data']['total_damage_dealt']}")
