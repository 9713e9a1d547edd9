"""Targeted news on the web: importing this module registers every page on the blueprint.

The e-mails' links point at the family's pages (messagerie.news.NEWS_PATH,
messagerie.news_subscription.UNSUBSCRIBE_PATH); tests check the routes match them.
"""

from web.messagerie import news_agent, news_family  # noqa: F401
from web.messagerie.news_blueprint import bp

__all__ = ["bp"]
