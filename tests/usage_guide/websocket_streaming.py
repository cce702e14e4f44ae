import websocket
import json
from datetime import datetime

def on_message(ws, message):
    data = json.loads(message)
    timestamp = datetime.now().strftime('%H:%M:%S')

    # Process different event types
    if data['EventType'] == 'combat_damage':
        print(f"[{timestamp}] Damage: {data['Data']['damage']} from {data['Data']['source']}")
    elif data['EventType'] == 'scene_transition':
        print(f"[{timestamp}] Moved to: {data['Data']['to_scene']}")

ws = websocket.WebSocketApp("ws://localhost:9091", on_message=on_message)
ws.run_forever()
