"""The synthetic shop's vocabulary: countries, channels, product categories and review phrases.

Pure data, no logic. :mod:`shopdata.synthetic` draws names, search queries and review texts
from these tables and :mod:`shopdata.dirty` the texts of deliberately broken reviews. Changing
any entry (or its order) changes the generated data for every seed.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- customers ------------------------------------------------------------------------------

#: Column positions in :data:`COUNTRIES` and :data:`CHANNELS`.
NAME, SHARE, RATE_MULTIPLIER, DROPOUT_MULTIPLIER = 0, 1, 2, 3

#: (code, share, purchase-rate multiplier, dropout multiplier)
COUNTRIES: tuple[tuple[str, float, float, float], ...] = (
    ("US", 0.34, 1.00, 1.00),
    ("GB", 0.12, 1.05, 0.95),
    ("DE", 0.11, 1.10, 0.90),
    ("FR", 0.08, 0.95, 1.05),
    ("CA", 0.07, 1.00, 1.00),
    ("AU", 0.05, 0.95, 1.05),
    ("NL", 0.05, 1.10, 0.90),
    ("ES", 0.04, 0.90, 1.10),
    ("IT", 0.04, 0.90, 1.10),
    ("SE", 0.03, 1.10, 0.90),
    ("PL", 0.03, 0.90, 1.05),
    ("BR", 0.02, 0.85, 1.15),
    ("JP", 0.02, 1.00, 0.95),
)

#: (channel, share, purchase-rate multiplier, dropout multiplier)
CHANNELS: tuple[tuple[str, float, float, float], ...] = (
    ("organic", 0.35, 1.00, 1.00),
    ("paid_search", 0.25, 0.95, 1.15),
    ("social", 0.18, 0.80, 1.30),
    ("email", 0.12, 1.20, 0.85),
    ("referral", 0.10, 1.15, 0.75),
)


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """A product category: price level, popularity and the words used for names and queries."""

    name: str
    median_price: float
    weight: float
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "books",
        15.0,
        1.2,
        ("Illustrated", "Hardcover", "Paperback", "Collected", "Annotated", "Classic",
         "Pocket", "Complete", "Modern", "Essential", "Practical", "Vintage"),
        ("Cookbook", "Mystery Novel", "Travel Guide", "Poetry Collection", "Biography",
         "Science Fiction Novel", "Fantasy Saga", "History Book", "Field Guide", "Atlas",
         "Children's Storybook", "Graphic Novel", "Short Story Anthology", "Self-Help Book"),
    ),
    Category(
        "electronics",
        70.0,
        1.1,
        ("Wireless", "Portable", "Smart", "Bluetooth", "Compact", "Noise-Cancelling",
         "Rechargeable", "Ultra-Slim", "Waterproof", "High-Speed", "Ergonomic", "Dual-Band"),
        ("Headphones", "Speaker", "Power Bank", "Phone Charger", "Keyboard", "Mouse", "Webcam",
         "Earbuds", "Smartwatch", "Router", "Monitor", "Action Camera", "E-Reader", "Tablet"),
    ),
    Category(
        "home",
        35.0,
        1.0,
        ("Ceramic", "Bamboo", "Minimalist", "Cozy", "Scented", "Stainless", "Handwoven",
         "Rustic", "Velvet", "Modular", "Linen", "Glass"),
        ("Desk Lamp", "Throw Blanket", "Candle", "Storage Basket", "Wall Clock", "Coffee Mug",
         "Cutting Board", "Picture Frame", "Cushion", "Vase", "Bookshelf", "Kettle",
         "Bath Towel", "Doormat"),
    ),
    Category(
        "beauty",
        18.0,
        0.9,
        ("Hydrating", "Organic", "Vegan", "Gentle", "Brightening", "Nourishing", "Matte",
         "Lightweight", "Soothing", "Fragrance-Free", "Revitalizing", "Mineral"),
        ("Face Cream", "Lip Balm", "Shampoo", "Conditioner", "Serum", "Sunscreen",
         "Body Lotion", "Face Mask", "Cleanser", "Hand Cream", "Eye Palette", "Hair Oil",
         "Perfume", "Nail Polish"),
    ),
    Category(
        "toys",
        22.0,
        0.8,
        ("Wooden", "Plush", "Magnetic", "Educational", "Remote-Control", "Glow-in-the-Dark",
         "Giant", "Mini", "Musical", "Stackable", "Colorful", "Inflatable"),
        ("Building Blocks", "Teddy Bear", "Puzzle", "Race Car", "Dollhouse", "Board Game",
         "Train Set", "Kite", "Robot Kit", "Card Game", "Play Tent", "Dinosaur Figure",
         "Yo-Yo", "Marble Run"),
    ),
    Category(
        "sports",
        40.0,
        0.8,
        ("Lightweight", "Adjustable", "Foldable", "Breathable", "Pro", "Insulated", "Non-Slip",
         "Heavy-Duty", "Carbon", "Quick-Dry", "Reflective", "Padded"),
        ("Yoga Mat", "Dumbbell Set", "Running Shoes", "Water Bottle", "Tennis Racket",
         "Bike Helmet", "Resistance Bands", "Jump Rope", "Gym Bag", "Football",
         "Hiking Backpack", "Swim Goggles", "Cycling Gloves", "Foam Roller"),
    ),
    Category(
        "grocery",
        7.0,
        1.0,
        ("Organic", "Roasted", "Spicy", "Gluten-Free", "Smoked", "Wildflower", "Premium",
         "Whole-Grain", "Cold-Pressed", "Sea-Salt", "Artisan", "Fair-Trade"),
        ("Coffee Beans", "Green Tea", "Olive Oil", "Honey", "Granola", "Chocolate Bar",
         "Pasta", "Peanut Butter", "Almonds", "Hot Sauce", "Rice", "Oat Milk", "Crackers",
         "Maple Syrup"),
    ),
    Category(
        "fashion",
        35.0,
        1.0,
        ("Slim-Fit", "Oversized", "Cotton", "Wool", "Denim", "Leather", "Striped", "Classic",
         "Waterproof", "Knitted", "Linen", "Casual"),
        ("T-Shirt", "Hoodie", "Jeans", "Sneakers", "Scarf", "Jacket", "Dress", "Belt",
         "Beanie", "Socks", "Sweater", "Raincoat", "Handbag", "Sunglasses"),
    ),
    Category(
        "garden",
        28.0,
        0.6,
        ("Solar", "Galvanized", "Expandable", "Ceramic", "Self-Watering", "Cordless",
         "Weatherproof", "Recycled", "Terracotta", "Folding", "Heavy-Duty", "Cedar"),
        ("Garden Hose", "Planter", "Pruning Shears", "Watering Can", "Bird Feeder",
         "Lawn Sprinkler", "Garden Gloves", "Compost Bin", "Raised Bed", "Lantern", "Seed Kit",
         "Rake", "Hammock", "Trellis"),
    ),
    Category(
        "music",
        20.0,
        0.6,
        ("Acoustic", "Vintage", "Deluxe", "Remastered", "Live", "Electric", "Beginner",
         "Limited-Edition", "Studio", "Portable", "Classic", "Digital"),
        ("Vinyl Record", "Guitar Strings", "Ukulele", "Drum Sticks", "Keyboard Stand",
         "Harmonica", "Metronome", "Guitar Capo", "Songbook", "Microphone", "Guitar Pedal",
         "Music Stand", "Concert Poster", "Tambourine"),
    ),
)  # fmt: skip

# --- search queries (built per category by shopdata.synthetic) -------------------------------
CHEAP_QUERY_PREFIX = "cheap"
BEST_QUERY_PREFIX = "best"
#: Queries every category gets, formatted with the category name.
CATEGORY_QUERY_TEMPLATES: tuple[str, ...] = ("{category} gift ideas", "{category} sale")

# --- review text templates (ASCII, no digits, no '@': clean text never looks like PII) -------
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2

REVIEW_OPENERS: tuple[tuple[str, ...], ...] = (
    (
        "Really disappointed with this purchase.",
        "Not what I expected at all.",
        "I wanted to like this, but no.",
        "Would not buy again.",
        "Honestly a waste of money.",
        "Very poor quality for the price.",
        "Save yourself the trouble.",
        "This was a letdown.",
    ),
    (
        "It is okay.",
        "Does the job, nothing more.",
        "Mixed feelings about this one.",
        "Average quality overall.",
        "Decent, but not amazing.",
        "Fine for the price.",
    ),
    (
        "Absolutely love it!",
        "Great purchase.",
        "Exceeded my expectations.",
        "Fantastic quality.",
        "So glad I ordered this.",
        "Really impressed.",
        "Exactly what I was looking for.",
        "Better than I hoped.",
    ),
)

#: (prefix, suffix) around the lower-cased product name.
REVIEW_PRODUCT_SENTENCES: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("I regret buying the ", "."),
        ("The quality of the ", " is terrible."),
        ("I returned the ", " after a few days."),
        ("Nothing about the ", " felt well made."),
        ("My order of the ", " arrived damaged."),
        ("I expected much more from the ", "."),
    ),
    (
        ("The quality of the ", " is acceptable."),
        ("I have mixed feelings about the ", "."),
        ("I ordered the ", " and it does the job."),
        ("Nothing special about the ", ", but nothing wrong either."),
        ("I have been using the ", " for a while now."),
    ),
    (
        ("I absolutely love the ", "."),
        ("I bought the ", " as a gift and it was a hit."),
        ("The quality of the ", " surprised me."),
        ("Could not be happier with the ", "."),
        ("I have been using the ", " every day since it arrived."),
        ("The ", " looks even better in person."),
    ),
)

#: Optional middle sentences; the empty string keeps some reviews short.
REVIEW_DETAILS: tuple[tuple[str, ...], ...] = (
    (
        "",
        " Delivery took forever and nobody answered my emails.",
        " Customer service was slow and unhelpful.",
        " The packaging was torn when it arrived.",
        " The instructions were confusing and incomplete.",
        " It smelled strange out of the box.",
        " Returning it was a hassle.",
        " The material feels flimsy.",
    ),
    (
        "",
        " Shipping took a bit longer than promised.",
        " The packaging could be better.",
        " It is a little smaller than I thought.",
        " The finish is average.",
        " The instructions were okay.",
    ),
    (
        "",
        " Shipping was fast and the packaging was neat.",
        " Great value for the money.",
        " Customer service answered my question within hours.",
        " Feels sturdy and well made.",
        " Exactly as described in the listing.",
        " Already ordered another one for my sister.",
        " Setup took only a few minutes.",
    ),
)

REVIEW_CLOSERS: tuple[tuple[str, ...], ...] = (
    (
        "",
        " I will be shopping elsewhere from now on.",
        " One star is generous.",
        " Not recommended.",
        " Cannot recommend this shop anymore.",
        " Do not bother.",
    ),
    (
        "",
        " Might order again if the price is right.",
        " Could be better, could be worse.",
        " Probably fine for most people.",
        " We will see how it holds up.",
    ),
    (
        "",
        " Highly recommended!",
        " Will definitely order again.",
        " Love this shop.",
        " Great experience overall.",
        " Thank you!",
    ),
)

# --- texts of deliberately broken reviews (shopdata.dirty) ----------------------------------
#: Non-ASCII endings (accents, CJK, emoji) appended to a clean review.
DIRTY_NON_ASCII = (
    " Tr\u00e8s bon produit, livraison rapide! \U0001f600",
    " Sehr gut, w\u00fcrde wieder kaufen. \U0001f44d",
    " \u3068\u3066\u3082\u826f\u3044\u5546\u54c1\u3067\u3059\u3002",
    " \u975e\u5e38\u597d\uff0c\u8d28\u91cf\u5f88\u68d2\uff01",
    " Muy buena calidad, env\u00edo r\u00e1pido \U0001f680",
    " \u00d3timo produto, cora\u00e7\u00e3o \u2764\ufe0f",
)
#: E-mail and phone endings appended to a clean review, formatted with a number ``k``.
DIRTY_PII = (
    " Questions? Email me at anna.schmidt{k}@example.com or call +44 20 7946 {k:04d}.",
    " Contact john.doe{k}@mail.example.org, phone (555) 013-{k:04d}.",
    " Reach me on maria_{k}@example.net or +1 555 010 {k:04d} any time.",
)
