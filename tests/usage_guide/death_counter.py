import asyncio
import websockets
import json

deaths = 0

async def track_deaths():
    global deaths
    async with websockets.connect('ws://localhost:9091') as ws:
        async for message in ws:
            data = json.loads(message)
            if data['EventType'] == 'player_death':
                deaths += 1
                print(f"Death #{deaths} at {data['Data']['location']}")
                # Update overlay file
                with open('death_count.txt', 'w') as f:
                    f.write(str(deaths))

asyncio.run(track_deaths())
