"""``python -m marketpipe.sandbox`` — same options as ``marketpipe sandbox``."""

from marketpipe.sandbox.cli import app

if __name__ == "__main__":
    app(prog_name="marketpipe-sandbox")
