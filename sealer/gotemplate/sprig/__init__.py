"""sprig 3.2.3's functions (Masterminds/sprig, the library Bitnami's and External Secrets' templates run on),
as Go's GenericFuncMap defines them: the same argument order, types, and quirks (`b64dec` of bad input prints
the decoder's error; `get` of a missing key is ""; `atoi` of junk is 0).

Left out: functions whose output changes from run to run (now, date*, rand*, shuffle, uuidv4, randBytes,
bcrypt/htpasswd, genPrivateKey/genCA/gen*Cert), that read the world (env, expandenv, getHostByName: Bitnami removes
them too), and the rest nobody has asked for yet (must* variants, semver*, urlParse/urlJoin, path and filepath
functions, typeOf/kindOf/deepEqual, deepCopy, seq/until/untilStep, chunk, splitn, abbrevboth, initials, swapcase,
wrapWith, the decimal float math addf/subf/mulf/divf/add1f/maxf/minf, toDecimal, encryptAES/decryptAES,
derivePassword, hello). A template using one is refused at parse time, as Go refuses an unknown function.
"""

from __future__ import annotations

from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig import arithmetic, containers, encoding, regex, text

SPRIG: dict[str, Func] = {**text.FUNCS, **encoding.FUNCS, **containers.FUNCS, **arithmetic.FUNCS, **regex.FUNCS}
