import socket
import asyncio

async def bridge_to_livesplit():
    # Connect to Data Export Bus TCP
    reader, writer = await asyncio.open_connection('localhost', 9090)

    # Connect to LiveSplit Server
    livesplit = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    livesplit.connect(('localhost', 16834))

    while True:
        data = await reader.readline()
        command = data.decode().strip()

        if command == 'split':
            livesplit.send(b'split\r\n')
        elif command == 'reset':
            livesplit.send(b'reset\r\n')
        elif command.startswith('time:'):
            # Update game time
            time_val = command.split(':')[1]
            livesplit.send(f'setgametime {time_val}\r\n'.encode())

asyncio.run(bridge_to_livesplit())
