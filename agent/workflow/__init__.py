"""The appeal workflow's steps as plain functions; agent.graph wires them into LangGraph."""
