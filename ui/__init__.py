"""Streamlit UI helpers shared by app.py and the pages (UI only: logic lives in recsys)."""
