"""``marketpipe mcp``: an MCP server (the official ``mcp`` SDK) giving an LLM assistant typed tools over
the query API's queries (:mod:`marketpipe.query`), over stdio or streamable HTTP."""
