"""The pure core of a step: compiled workflows, decisions, the step itself and previews.

Nothing here touches the database: the engine loads a case, the core works on it in
memory, and the engine writes what the core produced.
"""
