"""The LangGraph wiring of the appeal workflow (built in agent.graph.build)."""
