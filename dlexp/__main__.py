from dlexp.cli import app

app(prog_name="dlexp")
