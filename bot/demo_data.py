"""A deterministic demo catalog: products and streamers that look like a real live-commerce platform.

Everything comes from a seeded `random.Random` (never the clock), so the same seed gives the
same rows. `demo_products` / `demo_streamers` give import rows (the columns of PRODUCT.md);
`demo_catalog_items` grades product rows into `CatalogItem`s; `generated_catalog` streams
large synthetic catalogs for benchmarks (100k–1M items, graded by a quick formula).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from core.catalog import TIERS, CatalogItem
from core.grading import Indicators, grade
from core.policy import default_policy

DEFAULT_SEED = 20251111
CROSS_BORDER, LOCAL_LIFE, VIRTUAL = "跨境", "本地生活", "虚拟"

# Brand attribute values as the platform shows them ("Latin/中文" like Tmall's 品牌 field).
# Popularity 0–100 feeds brand_awareness.
_BRANDS = """
L'Oréal/欧莱雅 96; Lancôme/兰蔻 94; Estée Lauder/雅诗兰黛 93; ANESSA/安热沙 88; 珀莱雅/PROYA 85;
完美日记/Perfect Diary 80; 花西子/Florasis 78; 薇诺娜/Winona 82; 自然堂/CHANDO 79; 百雀羚 77;
OLAY/玉兰油 86; SHISEIDO/资生堂 90; SK-II 91; 毛戈平/MAOGEPING 76; 云南白药 92; Colgate/高露洁 90;
Crest/佳洁士 87; 舒客/Saky 70; DARLIE/好来 80; 冷酸灵 72; Philips/飞利浦 92; Oral-B/欧乐B 86;
海飞丝/Head & Shoulders 88; 潘婷/Pantene 84; 飘柔/Rejoice 83; 清扬/CLEAR 81; 阿道夫/ADOLPH 70;
舒肤佳/Safeguard 89; Dove/多芬 85; 六神 80; LUX/力士 78; BRAUN/博朗 82; 飞科/FLYCO 79;
蓝月亮 90; 立白/Liby 86; OMO/奥妙 84; 超能 78; Tide/汰渍 83; 维达/Vinda 88; 清风 85; 心相印 86;
洁柔/C&S 82; Dettol/滴露 87; 威猛先生/Mr Muscle 75; 威露士/Walch 76;
三只松鼠 90; 良品铺子 86; 百草味 82; 沃隆 70; 科尔沁 72; 卫龙 88; 李子柒 84; 好欢螺 76; 螺霸王 72;
陈克明 70; 金沙河 68; 今麦郎 74; 稻香村 85; 五芳斋 83; 三全 80; 美心/Maxim's 78; 农夫山泉 95;
怡宝/C'estbon 86; 百岁山 80; 元气森林 87; 伊利/yili 94; 蒙牛/MENGNIU 93; 认养一头牛 75; 简爱 70;
Nestlé/雀巢 92; 三顿半 78; 隅田川 70; OREO/奥利奥 88; 旺旺 87; 嘉士利 66; 金龙鱼 91; 鲁花 88;
福临门 84; 德芙 89; Ferrero/费列罗 87; 百果园 82; 佳沃/Joyvio 72; 鲜丰水果 66;
Nike/耐克 97; adidas/阿迪达斯 95; 李宁/LI-NING 90; 安踏/ANTA 89; UNIQLO/优衣库 92; 太平鸟/PEACEBIRD 80;
波司登/BOSIDENG 86; 海澜之家/HLA 83; 森马/Semir 78; 回力/Warrior 80; COACH/蔻驰 88; 七匹狼/SEPTWOLVES 76;
ZARA 85; Skechers/斯凯奇 84; New Balance/新百伦 88; 鸭鸭/YAYA 74; Levi's/李维斯 86;
IKEA/宜家 90; 富安娜/FUANNA 80; 罗莱/LUOLAI 79; 水星家纺/MERCURY 78; LocknLock/乐扣乐扣 80;
THERMOS/膳魔师 84; ZOJIRUSHI/象印 82; 苏泊尔/SUPOR 86; ZWILLING/双立人 85; MINISO/名创优品 78;
茶花 72; 大朴/DAPU 68; 网易严选 80; 洁丽雅/Grace 74; 爱仕达/ASD 75; 张小泉 82;
Dyson/戴森 95; Apple/苹果 98; 华为/HUAWEI 97; 小米/Xiaomi 95; 美的/Midea 93; 格力/GREE 92;
九阳/Joyoung 85; SONY/索尼 90; 海尔/Haier 91; 科沃斯/ECOVACS 84; 石头/Roborock 80; 追觅/Dreame 79;
Anker/安克 82; 倍思/Baseus 76; 罗马仕/ROMOSS 74; 南孚/NANFU 86; 金霸王/Duracell 84; Panasonic/松下 88;
荣耀/HONOR 90; vivo 91; OPPO 91; 漫步者/EDIFIER 78; 方太/FOTILE 86; 老板/Robam 84; 艾美特/Airmate 72;
飞鹤/FIRMUS 90; Aptamil/爱他美 91; 美赞臣/MeadJohnson 88; 君乐宝 80; Pampers/帮宝适 90; Huggies/好奇 88;
Pigeon/贝亲 86; babycare 82; 十月结晶 72; 全棉时代/PurCotton 80; 英氏/Engnice 74; Gerber/嘉宝 80;
Heinz/亨氏 82; KUB/可优比 70; gb/好孩子 82;
DECATHLON/迪卡侬 88; CAMEL/骆驼 82; 探路者/TOREAD 76; The North Face/北面 88; ARC'TERYX/始祖鸟 90;
Keep 80; YONEX/尤尼克斯 88; 红双喜/DHS 84; 牧高笛/MOBI GARDEN 74; 凯乐石/KAILAS 76; Spalding/斯伯丁 82;
Wilson/威尔胜 80; Speedo/速比涛 80; GIANT/捷安特 84; VICTOR/威克多 78;
周大福/CHOW TAI FOOK 95; 周生生 88; 老凤祥 90; 六福珠宝 84; PANDORA/潘多拉 86; SWAROVSKI/施华洛世奇 88;
周六福 78; 中国黄金 82; 菜百 76; APM Monaco 74; CASIO/卡西欧 86; TISSOT/天梭 86; LONGINES/浪琴 88;
Daniel Wellington/DW 74;
ROYAL CANIN/皇家 92; ORIJEN/渴望 84; 麦富迪/Myfoodie 80; Whiskas/伟嘉 82; 比瑞吉/Nature Bridge 74;
卫仕/NOURSE 72; PETKIT/小佩 76; 疯狂小狗 70; Pedigree/宝路 80; 霍曼 66; ACANA/爱肯拿 80; 大宠爱 78;
Frontline/福来恩 80;
晨光/M&G 88; 得力/deli 86; PILOT/百乐 84; uni/三菱 82; KOKUYO/国誉 80; ZEBRA/斑马 80; LAMY/凌美 82;
英雄/HERO 76; 卡拉羊/Carany 68; 重庆出版社 70; 作家出版社 72; 南海出版公司 74; 人民文学出版社 82;
中信出版社 84; 天津人民出版社 70; 北京十月文艺出版社 72;
Swisse/斯维诗 90; Blackmores/澳佳宝 86; a2 88; Kiehl's/科颜氏 88; La Roche-Posay/理肤泉 86;
Cetaphil/丝塔芙 80; Aesop/伊索 82; L'OCCITANE/欧舒丹 84; Centrum/善存 84; Elevit/爱乐维 82; Kao/花王 86;
YA-MAN/雅萌 76; Jellycat 80; Bio-Oil/百洛 72;
海底捞 95; HEYTEA/喜茶 90; Starbucks/星巴克 94; KFC/肯德基 95; McDonald's/麦当劳 95; luckin/瑞幸咖啡 91;
Pizza Hut/必胜客 86; 外婆家 78; 南京大牌档 80; 全季酒店 82; 亚朵/Atour 84; 华住会 80; 上海迪士尼度假区 95;
长隆 90; 万达影城 86; 云南文旅 70; 浙江文旅 70; 北京文旅 72;
腾讯视频 95; iQIYI/爱奇艺 92; 优酷/Youku 86; 芒果TV 84; 网易云音乐 88; QQ音乐 88; 喜马拉雅 84;
百度网盘 86; WPS 84; 中国移动 96; 中国联通 92; 中国电信 92; Steam 80; bilibili/哔哩哔哩 88; 知乎 80; 得到 74
"""

# Product lines per category: (noun, attribute groups, specs, price range, brands with their series).
# Attribute groups and specs are `|`-separated; brands are `;`-separated, `brand:series|series`.
_Line = tuple[str, tuple[str, ...], str, tuple[float, float], str]
_LINES: dict[str, tuple[_Line, ...]] = {
    "美妆个护": (
        (
            "面霜",
            ("保湿|补水|修护|抗皱|美白|紧致", "滋润型|清爽型|经典款"),
            "50ml|50g|30ml|15ml 小样",
            (89, 1680),
            "欧莱雅:复颜|玻尿酸|青春密码;兰蔻:菁纯|塑颜;雅诗兰黛:多效智妍|红石榴;珀莱雅:红宝石|双抗;"
            "薇诺娜:舒敏|特护;自然堂:喜马拉雅|冰肌;百雀羚:帧颜|水能量;玉兰油:大红瓶|小白瓶;"
            "资生堂:悦薇|红腰子",
        ),
        (
            "精华液",
            ("抗老|修护|提亮|保湿|淡纹",),
            "30ml|50ml|75ml|100ml",
            (159, 1890),
            "兰蔻:小黑瓶|极光;雅诗兰黛:小棕瓶|特润;欧莱雅:黑精华|小蜜罐;珀莱雅:双抗|源力;SK-II:神仙水;"
            "玉兰油:小白瓶|淡斑",
        ),
        (
            "防晒霜",
            ("SPF50+|清爽|防水防汗|户外|军训", "经典款|新款"),
            "60ml|90ml|40ml|50g",
            (69, 328),
            "安热沙:小金瓶|小蓝瓶;资生堂:新艳阳夏;欧莱雅:小金管;薇诺娜:清透;自然堂:冰肌;珀莱雅:羽感",
        ),
        (
            "防晒喷雾",
            ("清爽|防水|全身可用|户外",),
            "60g|90ml|150ml",
            (59, 259),
            "安热沙:小金喷|;资生堂:;薇诺娜:;欧莱雅:",
        ),
        (
            "口红",
            ("正红色|豆沙色|枫叶红|奶茶色|烂番茄色|复古红|玫瑰豆沙",),
            "3.5g|3g|2.5g|礼盒装",
            (59, 420),
            "完美日记:小细跟|反重力;花西子:雕花|同心锁;毛戈平:光感;兰蔻:菁纯|小蛮腰;雅诗兰黛:倾慕;"
            "欧莱雅:小钢笔",
        ),
        (
            "洗面奶",
            ("氨基酸|控油|温和|深层清洁|保湿",),
            "100g|120g|150ml|200ml",
            (39, 189),
            "欧莱雅:男士|清润;珀莱雅:净澈;自然堂:冰肌;百雀羚:水能量;薇诺娜:舒缓;玉兰油:水感;资生堂:洗颜专科",
        ),
        (
            "面膜",
            ("补水|保湿|舒缓|美白|熬夜|修护",),
            "10片|5片装|21片|25片 礼盒",
            (49, 299),
            "自然堂:喜马拉雅;百雀羚:水嫩;珀莱雅:源力;薇诺娜:舒敏;欧莱雅:安瓶;SK-II:前男友",
        ),
        (
            "蜜粉",
            ("控油|定妆|散粉|柔焦|持久",),
            "8g|10g|6g",
            (99, 460),
            "花西子:玉容;完美日记:小狮子;毛戈平:光感;兰蔻:菁纯",
        ),
        (
            "眼霜",
            ("淡化细纹|抗皱|去黑眼圈|提拉紧致",),
            "15ml|20g|15g",
            (159, 1280),
            "雅诗兰黛:小棕瓶;兰蔻:发光;欧莱雅:紫熨斗;珀莱雅:红宝石;玉兰油:超红瓶",
        ),
        (
            "粉底液",
            ("持妆|遮瑕|水润|哑光|控油",),
            "30ml|#N1 象牙白|#W2 自然色",
            (129, 680),
            "兰蔻:持妆;雅诗兰黛:DW;毛戈平:奢华鱼子;完美日记:小粉瓶;花西子:玉容",
        ),
        (
            "卸妆水",
            ("温和|敏感肌|眼唇|深层清洁",),
            "400ml|200ml|500ml",
            (49, 199),
            "欧莱雅:三合一;完美日记:白胖子;薇诺娜:舒敏;珀莱雅:净澈",
        ),
        (
            "牙膏",
            ("留兰香型|冰柠薄荷|美白|护龈|抗敏感|益生菌|清新口气",),
            "180g|120g|210g×3支|90g|100g",
            (12, 89),
            "云南白药:金口健|益优|;高露洁:光感白|劲白|;佳洁士:3D炫白|锁白|;舒客:早晚;好来:双重薄荷|;冷酸灵:",
        ),
        (
            "牙刷",
            ("软毛|护龈|宽头|儿童|竹炭",),
            "4支装|2支装|6支 家庭装",
            (9.9, 49),
            "云南白药:;高露洁:;佳洁士:;舒客:",
        ),
        (
            "电动牙刷",
            ("声波|软毛|美白|自动|情侣款",),
            "白色|粉色|礼盒装|黑色",
            (99, 1299),
            "飞利浦:Sonicare HX6730|钻石亮白 HX9911;欧乐B:iO5|Pro4;小米:米家 T500;舒客:G32",
        ),
        (
            "洗发水",
            ("去屑|控油|蓬松|修护|止痒",),
            "750ml|400ml×2|500g|1L",
            (29, 139),
            "海飞丝:丝质柔滑;潘婷:3分钟奇迹;飘柔:家庭装;清扬:男士;阿道夫:精油;云南白药:养元青",
        ),
        (
            "沐浴露",
            ("花香|持久留香|滋润|清爽|樱花",),
            "1L|720ml|750g|1kg",
            (29, 99),
            "舒肤佳:纯白清香|柠檬;多芬:深层营润;六神:清凉;力士:幽莲魅肤",
        ),
        (
            "剃须刀",
            ("电动|全身水洗|往复式|旋转式",),
            "礼盒装|标配|旅行装",
            (129, 1999),
            "飞利浦:S5000|蜂巢 7系;博朗:5系|9系 Pro;小米:米家 S700;飞科:FS903",
        ),
    ),
    "家庭清洁": (
        (
            "洗衣液",
            ("薰衣草香|机洗|除菌|护色|深层洁净",),
            "3kg|2kg×2瓶|4.5kg|1kg",
            (29, 129),
            "蓝月亮:深层洁净|至尊;立白:天然;奥妙:酵素;超能:植翠;汰渍:洁雅百合",
        ),
        (
            "洗衣凝珠",
            ("三合一|持久留香|除菌|护色",),
            "52颗|30颗|60颗",
            (39, 119),
            "奥妙:;汰渍:;立白:;蓝月亮:",
        ),
        (
            "抽纸",
            ("3层|4层|加厚|原木|经典",),
            "120抽×24包|100抽×18包|6包|130抽×30包",
            (29, 99),
            "维达:超韧;清风:原木纯品;心相印:茶语;洁柔:Face",
        ),
        ("纸巾", ("手帕纸|面巾纸|湿厕纸|便携",), "36包|18包|10包", (15, 59), "维达:;清风:;心相印:;洁柔:"),
        ("湿巾", ("消毒|卫生|湿厕纸|婴儿可用",), "80片×3包|10片×10包|40片", (15, 69), "维达:;心相印:;滴露:"),
        ("消毒液", ("衣物|除菌|多用途|松木",), "1.5L|750ml|2.5L", (39, 129), "滴露:;威露士:;蓝月亮:"),
        ("洗洁精", ("柠檬|不伤手|食品用|去油",), "1.5kg|1kg×2瓶|500g", (12, 49), "立白:;超能:;蓝月亮:"),
        ("厨房清洁剂", ("重油污|泡沫|多用途",), "500g×2瓶|600ml", (19, 59), "威猛先生:;蓝月亮:"),
    ),
    "食品饮料": (
        (
            "每日坚果",
            ("混合坚果|原味|孕妇零食|经典",),
            "750g/30袋|25g×30包|礼盒装",
            (59, 199),
            "三只松鼠:;良品铺子:;百草味:;沃隆:",
        ),
        ("坚果礼盒", ("年货|送礼|什锦",), "1.8kg|2.3kg 10袋|1.5kg", (89, 299), "三只松鼠:;良品铺子:;百草味:"),
        (
            "牛肉干",
            ("风干|五香|麻辣|手撕|原味",),
            "100g|250g|500g",
            (29, 129),
            "良品铺子:;三只松鼠:;百草味:;科尔沁:",
        ),
        ("辣条", ("香辣|麻辣|经典",), "106g|65g×10包|礼包", (9.9, 49), "卫龙:大面筋|魔芋爽|小面筋"),
        (
            "螺蛳粉",
            ("加辣|加臭|原味|经典",),
            "335g×3袋|400g×5袋|330g×10袋",
            (29, 99),
            "李子柒:;好欢螺:;螺霸王:",
        ),
        ("米粉", ("桂林|江西|过桥|酸辣",), "270g×3袋|1kg|2kg", (19, 69), "李子柒:;好欢螺:;陈克明:"),
        (
            "蛋黄酥",
            ("雪媚娘|红豆|流心|经典原味|咸蛋黄",),
            "6枚|12枚 礼盒|330g",
            (19, 89),
            "良品铺子:;三只松鼠:;稻香村:;百草味:",
        ),
        ("粽子", ("鲜肉|蛋黄|豆沙|蜜枣|板栗",), "8只|10只 礼盒|1.2kg", (29, 159), "五芳斋:;稻香村:;三全:"),
        (
            "月饼",
            ("五仁|莲蓉蛋黄|流心奶黄|广式|冰皮",),
            "礼盒 8饼8味|6枚|680g",
            (49, 399),
            "稻香村:;五芳斋:;美心:;良品铺子:",
        ),
        (
            "矿泉水",
            ("天然|饮用水|弱碱性",),
            "550ml×24瓶|4L×6桶|380ml×12瓶",
            (19, 79),
            "农夫山泉:长白雪|;怡宝:;百岁山:",
        ),
        (
            "气泡水",
            ("白桃味|青瓜味|葡萄味|荔枝味|无糖|卡曼橘味",),
            "480ml×15瓶|330ml×12罐|480ml×6瓶",
            (29, 89),
            "元气森林:;农夫山泉:苏打",
        ),
        (
            "纯牛奶",
            ("全脂|有机|低脂|A2|高钙",),
            "250ml×12盒|250ml×16盒|200ml×24盒",
            (39, 129),
            "伊利:金典|;蒙牛:特仑苏|;认养一头牛:",
        ),
        (
            "酸奶",
            ("原味|黄桃燕麦|草莓|希腊",),
            "205g×12盒|200g×10盒|230g×10瓶",
            (39, 99),
            "伊利:安慕希;蒙牛:纯甄;简爱:",
        ),
        (
            "咖啡",
            ("速溶|冷萃|挂耳|美式|拿铁",),
            "30条|24颗|10包|100条",
            (29, 199),
            "雀巢:1+2|金牌;三顿半:;隅田川:",
        ),
        (
            "饼干",
            ("夹心|原味|巧克力味|仙贝|雪饼",),
            "388g|家庭装 700g|礼包",
            (9.9, 69),
            "奥利奥:;旺旺:;嘉士利:",
        ),
        (
            "面条",
            ("细面|宽面|鸡蛋面|荞麦面|龙须面",),
            "1kg|500g×3袋|2kg",
            (9.9, 49),
            "陈克明:;金沙河:;今麦郎:",
        ),
        ("柿子", ("富平|脆|甜|火晶",), "5斤|3斤|9斤 礼盒", (29, 99), "百果园:;佳沃:;鲜丰水果:"),
        ("车厘子", ("智利|JJ级|JJJ级|进口",), "2斤|5斤 礼盒", (99, 599), "百果园:;佳沃:;鲜丰水果:"),
        ("橙子", ("赣南|脐橙|冰糖橙|新鲜",), "5斤|10斤", (29, 89), "百果园:;农夫山泉:17.5°;鲜丰水果:"),
        (
            "食用油",
            ("花生油|稻米油|菜籽油|调和油|玉米油",),
            "5L|1.8L×2|4L",
            (49, 199),
            "金龙鱼:;鲁花:;福临门:",
        ),
        ("巧克力", ("丝滑牛奶|黑巧|榛果|夹心",), "252g|16粒 礼盒|碗装", (29, 199), "德芙:;费列罗:"),
    ),
    "服饰鞋包": (
        (
            "运动鞋",
            ("黑色|白色|灰色|米白|藏青|黑白", "男款|女款|情侣款"),
            "39|40|41|42|43",
            (299, 1299),
            "耐克:Air Force 1|Air Max 90|Dunk Low;阿迪达斯:Samba|Superstar|Ultraboost;李宁:超轻21;安踏:C37;"
            "斯凯奇:D'Lites;新百伦:574|9060|530",
        ),
        (
            "跑鞋",
            ("缓震|透气|竞速|轻量", "男款|女款"),
            "黑色|白色|荧光绿|灰蓝",
            (299, 1499),
            "耐克:Pegasus 41|Vomero 18;阿迪达斯:Adizero;李宁:赤兔7|飞电;安踏:马赫4",
        ),
        (
            "板鞋",
            ("小白鞋|百搭|经典款|帆布",),
            "白色|黑白|米白",
            (99, 699),
            "回力:;李宁:;耐克:Court Vision;阿迪达斯:Stan Smith",
        ),
        (
            "卫衣",
            ("连帽|圆领|加绒|宽松|经典款", "黑色|白色|灰色|藏青|淡黄"),
            "S|M|L|XL",
            (99, 599),
            "优衣库:;太平鸟:;森马:;李宁:;耐克:;阿迪达斯:",
        ),
        (
            "T恤",
            ("纯棉|短袖|印花|速干|经典款", "黑色|白色|灰色|淡黄|浅蓝"),
            "S|M|L|XL|XXL",
            (39, 299),
            "优衣库:UT|;太平鸟:;森马:;海澜之家:;耐克:",
        ),
        (
            "羽绒服",
            ("90白鸭绒|连帽|短款|长款|轻薄", "黑色|米白|藏青|卡其"),
            "M|L|XL|165/88A|175/96A",
            (399, 2599),
            "波司登:;鸭鸭:;优衣库:;太平鸟:",
        ),
        (
            "牛仔裤",
            ("直筒|阔腿|修身|高腰", "浅蓝|深蓝|黑色"),
            "26|28|30|32",
            (99, 699),
            "优衣库:;森马:;太平鸟:;李维斯:501|511",
        ),
        (
            "连衣裙",
            ("碎花|法式|收腰|雪纺|针织", "淡黄|白色|黑色|浅蓝|杏色"),
            "S|M|L",
            (129, 799),
            "太平鸟:;ZARA:;优衣库:",
        ),
        (
            "衬衫",
            ("免烫|长袖|商务|牛津纺", "白色|浅蓝|条纹"),
            "39|40|41|42",
            (99, 499),
            "海澜之家:;七匹狼:;优衣库:",
        ),
        (
            "双肩包",
            ("大容量|电脑包|通勤|运动", "黑色|灰色|藏青"),
            "15.6英寸|20L|30L",
            (99, 699),
            "耐克:;阿迪达斯:;小米:;北面:",
        ),
        (
            "托特包",
            ("真皮|大容量|通勤|经典款", "黑色|棕色|奶白"),
            "中号|大号",
            (1299, 4999),
            "蔻驰:Tabby|City",
        ),
    ),
    "家居日用": (
        (
            "被子",
            ("蚕丝|羽绒|冬季加厚|春秋|大豆纤维",),
            "200×230cm|150×200cm|220×240cm",
            (199, 1999),
            "富安娜:;罗莱:;水星家纺:;大朴:",
        ),
        (
            "四件套",
            ("纯棉|长绒棉|天丝|简约|经典",),
            "1.5m床|1.8m床|2.0m床",
            (199, 1299),
            "富安娜:;罗莱:;水星家纺:;大朴:",
        ),
        ("枕头", ("乳胶|记忆棉|护颈|荞麦",), "一对装|单只", (59, 499), "富安娜:;水星家纺:;网易严选:"),
        (
            "保温杯",
            ("316不锈钢|大容量|儿童|便携|经典款",),
            "500ml|350ml|750ml|1L",
            (69, 399),
            "膳魔师:;象印:;苏泊尔:;乐扣乐扣:",
        ),
        (
            "杯子",
            ("陶瓷|玻璃|马克|情侣|带盖",),
            "350ml|2只装|400ml|6只装",
            (19, 129),
            "乐扣乐扣:;名创优品:;宜家:",
        ),
        (
            "收纳箱",
            ("塑料|折叠|衣物|大号|透明",),
            "3个装|55L|30L|100L",
            (29, 199),
            "宜家:;茶花:;名创优品:;网易严选:",
        ),
        ("炒锅", ("不粘|铁锅|麦饭石|无涂层",), "30cm|32cm|28cm", (99, 899), "苏泊尔:;双立人:;爱仕达:"),
        ("刀具套装", ("不锈钢|七件套|菜刀|经典系列",), "5件套|7件套|3件套", (99, 1299), "双立人:;张小泉:"),
        (
            "抱枕",
            ("织锦|苏绣|北欧|棉麻|卡通",),
            "45×45cm|含芯|50×50cm",
            (29, 199),
            "宜家:;名创优品:;网易严选:",
        ),
        ("毛巾", ("纯棉|A类|加厚|吸水",), "3条装|2条装|5条装", (19, 89), "洁丽雅:;大朴:;网易严选:"),
    ),
    "数码家电": (
        (
            "无线吸尘器",
            ("大吸力|除螨|轻量|手持",),
            "标配|旗舰版|家用套装",
            (999, 5999),
            "戴森:V8|V10|V12 Detect Slim|V15 Detect|Gen5;小米:米家 G10|米家 G20;美的:P7|Q8;追觅:T30|V16",
        ),
        (
            "吹风机",
            ("高速|负离子|速干|护发",),
            "礼盒装|标配|紫红色|黑镍色",
            (99, 3599),
            "戴森:Supersonic HD08|HD15;飞利浦:5000系列;松下:EH-NA0J;小米:米家 H501",
        ),
        (
            "空气净化器",
            ("除甲醛|除菌|宠物家庭|静音",),
            "卧室|客厅 60㎡|大户型",
            (699, 5499),
            "戴森:TP09|HP10;小米:米家 4 Pro;飞利浦:AC2958;美的:;海尔:",
        ),
        ("电饭煲", ("IH|智能|预约|柴火饭",), "3L|4L|5L", (199, 1299), "美的:;九阳:;苏泊尔:;松下:;小米:"),
        ("破壁机", ("静音|加热|免洗|多功能",), "1.2L|1.75L", (299, 1599), "九阳:;美的:;苏泊尔:;飞利浦:"),
        (
            "扫地机器人",
            ("扫拖一体|自动集尘|自清洁|避障",),
            "标准版|Pro",
            (1299, 5999),
            "科沃斯:地宝 T30|X2;石头:G20|P10;追觅:S30|X40;小米:米家 M30",
        ),
        (
            "蓝牙耳机",
            ("主动降噪|无线|入耳式|运动",),
            "白色|黑色|银色",
            (129, 1999),
            "苹果:AirPods Pro 2|AirPods 4;华为:FreeBuds Pro 4|FreeBuds 6i;小米:Redmi Buds 6;"
            "索尼:WF-1000XM5;漫步者:",
        ),
        (
            "手机",
            ("5G|全网通",),
            "8+256GB|12+256GB|12+512GB|256GB|512GB",
            (1299, 9999),
            "苹果:iPhone 16|iPhone 16 Pro|iPhone 16 Pro Max;华为:Mate 70|Pura 70|nova 13;"
            "小米:小米15|Redmi K80;荣耀:Magic7|X60;vivo:X200|S20;OPPO:Find X8|Reno13",
        ),
        (
            "平板电脑",
            ("WLAN版|护眼|学习",),
            "128GB|256GB|8+256GB",
            (1299, 6999),
            "苹果:iPad Air|iPad mini;华为:MatePad 11.5;小米:Pad 7",
        ),
        (
            "充电宝",
            ("快充|自带线|磁吸|大容量",),
            "10000mAh|20000mAh|5000mAh",
            (59, 399),
            "安克:;倍思:;小米:;罗马仕:",
        ),
        ("电池", ("5号|7号|碱性|充电",), "24粒|40粒|12粒|8粒", (19, 99), "南孚:;金霸王:;松下:"),
        ("油烟机", ("侧吸式|顶吸式|大吸力|自清洗",), "欧式|标准版", (1599, 6999), "方太:;老板:;美的:;海尔:"),
        ("电风扇", ("落地扇|循环扇|遥控|静音",), "7叶|5叶|台式", (99, 699), "美的:;格力:;艾美特:"),
        (
            "空调",
            ("新一级能效|变频|冷暖|挂机",),
            "1.5匹|大1匹|3匹 柜机",
            (1999, 8999),
            "格力:云佳|;美的:酷省电|;海尔:",
        ),
    ),
    "母婴用品": (
        (
            "婴儿奶粉",
            ("1段|2段|3段|4段",),
            "800g|700g|800g×6罐",
            (199, 1599),
            "飞鹤:星飞帆|臻稚;爱他美:卓萃|;美赞臣:蓝臻;君乐宝:至臻",
        ),
        (
            "纸尿裤",
            ("S码|M码|L码|XL码|NB码",),
            "72片|84片|124片",
            (89, 299),
            "帮宝适:一级帮|;好奇:心钻装|铂金装;babycare:皇室",
        ),
        ("拉拉裤", ("L码|XL码|XXL码",), "44片|66片|36片", (79, 259), "帮宝适:;好奇:;babycare:"),
        (
            "奶瓶",
            ("玻璃|PPSU|宽口径|防胀气",),
            "160ml|240ml|330ml",
            (49, 259),
            "贝亲:第三代|;可优比:;babycare:",
        ),
        (
            "婴儿湿巾",
            ("手口|加厚|无香|新生儿",),
            "80抽×6包|20抽×10包|80抽×12包",
            (29, 99),
            "全棉时代:;babycare:;贝亲:",
        ),
        ("米粉", ("婴儿|高铁|原味|营养",), "258g|225g|400g", (39, 129), "英氏:;嘉宝:;亨氏:"),
        (
            "婴儿推车",
            ("轻便|可坐可躺|折叠|高景观",),
            "一键收车|遛娃神器|标准款",
            (399, 2999),
            "好孩子:;babycare:;可优比:",
        ),
        ("安抚奶嘴", ("硅胶|夜光|防胀气",), "0-6个月|6-18个月", (29, 99), "贝亲:;可优比:"),
    ),
    "运动户外": (
        ("瑜伽垫", ("TPE|加厚|防滑|初学者",), "6mm|8mm|10mm", (49, 299), "Keep:;迪卡侬:;李宁:"),
        (
            "帐篷",
            ("自动速开|防雨|露营|户外",),
            "双人|4人|3-4人",
            (199, 1999),
            "骆驼:;牧高笛:;探路者:;迪卡侬:",
        ),
        (
            "登山鞋",
            ("防水|防滑|徒步|透气", "男款|女款"),
            "40|41|42|43",
            (299, 1599),
            "骆驼:;凯乐石:;探路者:;北面:",
        ),
        (
            "冲锋衣",
            ("三合一|防风防水|可拆卸内胆|硬壳", "黑色|藏青|墨绿"),
            "M|L|XL",
            (399, 5999),
            "骆驼:;北面:;始祖鸟:Beta LT|Alpha SV;凯乐石:;探路者:",
        ),
        (
            "羽毛球拍",
            ("全碳素|进攻型|单拍|超轻",),
            "4U|3U|5U",
            (199, 1599),
            "尤尼克斯:天斧 88D|弓箭 11;李宁:雷霆;威克多:",
        ),
        ("乒乓球拍", ("横拍|直拍|专业|初学",), "成品拍|双面反胶", (99, 899), "红双喜:狂飙|"),
        ("篮球", ("7号|室内外|耐磨|比赛",), "PU|橡胶", (99, 399), "斯伯丁:;威尔胜:;李宁:"),
        ("泳镜", ("防雾|高清|近视|大框",), "成人|儿童", (39, 199), "速比涛:;迪卡侬:;李宁:"),
        ("山地车", ("27速|禧玛诺|铝合金|变速",), "26寸|27.5寸|29寸", (1299, 4999), "捷安特:ATX 830|;迪卡侬:"),
        ("跳绳", ("计数|无绳|可调节|负重",), "成人|儿童", (19, 99), "Keep:;迪卡侬:;李宁:"),
    ),
    "珠宝配饰": (
        (
            "黄金手镯",
            ("足金|古法|实心|5G",),
            "约20g|约30g|约15g",
            (8999, 25999),
            "周大福:;周生生:;老凤祥:;中国黄金:;菜百:",
        ),
        (
            "吊坠",
            ("足金|转运珠|生肖|蓝宝石|红宝石",),
            "约2g|约3.5g|单吊坠",
            (599, 4999),
            "周大福:;六福珠宝:;周六福:",
        ),
        (
            "项链",
            ("锁骨链|纯银|玫瑰金|天鹅|经典",),
            "45cm|40cm",
            (299, 2999),
            "潘多拉:;施华洛世奇:;周大福:;APM Monaco:",
        ),
        (
            "手链",
            ("串珠|纯银|编绳|彩色宝石",),
            "17cm|19cm",
            (199, 1999),
            "潘多拉:Moments|;施华洛世奇:;周生生:",
        ),
        (
            "戒指",
            ("钻石|铂金|情侣|开口|蓝宝石",),
            "12号|14号|16号",
            (399, 9999),
            "周大福:;六福珠宝:;施华洛世奇:;潘多拉:",
        ),
        ("耳钉", ("珍珠|纯银|小众|气质",), "一对|单只", (99, 1299), "施华洛世奇:;APM Monaco:;潘多拉:"),
        (
            "手表",
            ("机械表|石英表|防水|经典",),
            "男表|女表|40mm|36mm",
            (399, 15999),
            "天梭:力洛克|小美人;浪琴:名匠|康卡斯;卡西欧:G-SHOCK|;Daniel Wellington:",
        ),
    ),
    "宠物用品": (
        (
            "猫粮",
            ("幼猫|成猫|全价|无谷",),
            "2kg|4.5kg|10kg",
            (59, 699),
            "皇家:K36|I27;渴望:;麦富迪:;伟嘉:;爱肯拿:",
        ),
        (
            "狗粮",
            ("小型犬|泰迪|金毛|幼犬|成犬",),
            "2kg|7.5kg|15kg",
            (59, 599),
            "皇家:;宝路:;麦富迪:;疯狂小狗:;比瑞吉:",
        ),
        ("猫砂", ("豆腐|膨润土|混合|除臭",), "6L×4包|2.5kg|10kg", (29, 129), "网易严选:;小佩:;疯狂小狗:"),
        ("冻干", ("鸡胸肉|三文鱼|鹌鹑|牛肉",), "500g|100g|200g", (29, 199), "麦富迪:;疯狂小狗:"),
        ("猫罐头", ("金枪鱼|鸡肉|幼猫|主食",), "85g×12罐|170g×24罐", (39, 199), "伟嘉:;麦富迪:;网易严选:"),
        ("驱虫药", ("体内外|滴剂|猫用|犬用",), "3支|1支|6支", (59, 399), "大宠爱:;福来恩:"),
        ("宠物饮水机", ("自动循环|静音|无线|过滤",), "2L|3L", (99, 399), "小佩:;霍曼:;小米:"),
        ("猫抓板", ("瓦楞纸|立式|猫窝|耐磨",), "大号|中号", (19, 99), "网易严选:;小佩:"),
    ),
    "图书文具": (
        (
            "中性笔",
            ("按动|0.5mm|0.38mm|速干", "黑色|蓝色|红色"),
            "12支装|36支|6支",
            (9.9, 69),
            "晨光:;得力:;百乐:P500|Juice;三菱:UM-151;斑马:",
        ),
        ("笔记本", ("A5|B5|活页|加厚",), "5本装|80页|10本装", (9.9, 59), "国誉:;晨光:;得力:"),
        ("钢笔", ("EF尖|F尖|练字|学生",), "礼盒装|墨囊套装", (29, 499), "百乐:贵妃|;英雄:;凌美:Safari"),
        ("荧光笔", ("双头|淡色|标记",), "5色|10色|6色", (9.9, 59), "斑马:mildliner|;晨光:"),
        ("书包", ("护脊|减负|小学生|大容量",), "1-3年级|4-6年级", (99, 499), "卡拉羊:;得力:"),
    ),
    CROSS_BORDER: (
        ("鱼油", ("深海|高浓度|无腥味|保税直发",), "200粒|400粒|1000mg×400粒", (99, 399), "斯维诗:;澳佳宝:"),
        ("维生素C", ("泡腾片|咀嚼片|高含量|海外直邮",), "60片|120片", (59, 199), "斯维诗:;澳佳宝:;善存:"),
        ("钙片", ("柠檬酸钙|维D|孕妇|液体钙",), "150粒|90粒", (79, 259), "斯维诗:;澳佳宝:"),
        ("复合维生素", ("孕期|备孕|男士|女士",), "100片|30片|60粒", (99, 399), "爱乐维:;善存:;斯维诗:"),
        ("婴儿奶粉", ("1段|2段|3段",), "900g|900g×3罐", (199, 899), "a2:白金版|"),
        (
            "面霜",
            ("保湿|修护|敏感肌|高保湿",),
            "125ml|50ml|550g",
            (99, 699),
            "科颜氏:高保湿;理肤泉:B5;丝塔芙:大白罐",
        ),
        ("护手霜", ("乳木果|滋润|芳香",), "75ml|30ml×3", (59, 299), "伊索:赋活芳香;欧舒丹:"),
        ("纸尿裤", ("M码|L码|XL码",), "64片|54片", (99, 259), "花王:妙而舒"),
        ("美容仪", ("射频|提拉紧致|导入",), "MAX|家用", (999, 4999), "雅萌:"),
        ("毛绒玩偶", ("邦尼兔|巴塞罗熊|安抚",), "31cm|18cm", (199, 699), "Jellycat:"),
        ("护肤油", ("淡化疤痕|妊娠纹",), "125ml|200ml", (99, 259), "百洛:"),
    ),
    LOCAL_LIFE: (
        (
            "双人套餐",
            ("工作日|周末通用|招牌|午市",),
            "团购券|代金券|到店",
            (99, 399),
            "海底捞:;外婆家:;南京大牌档:蟹粉狮子头|狮子头;必胜客:",
        ),
        (
            "代金券",
            ("100元|50元|200元",),
            "全国通用|可叠加",
            (39, 189),
            "海底捞:;肯德基:;麦当劳:;必胜客:;星巴克:",
        ),
        ("饮品券", ("中杯|大杯|拿铁|多肉葡萄",), "单杯|10杯套餐|5杯", (9.9, 199), "喜茶:;星巴克:;瑞幸咖啡:"),
        (
            "门票",
            ("成人票|儿童票|1日票|2日票",),
            "电子票|平日|周末",
            (99, 899),
            "上海迪士尼度假区:;长隆:野生动物世界|欢乐世界|海洋王国",
        ),
        (
            "景点门票",
            ("成人票|学生票|游船|联票",),
            "电子票|平日",
            (39, 299),
            "云南文旅:滇池|石林|玉龙雪山;浙江文旅:西湖|千岛湖;北京文旅:故宫|颐和园",
        ),
        (
            "酒店住宿",
            ("高级大床房|双床房|含早|亲子房",),
            "1晚|2晚 连住",
            (199, 999),
            "全季酒店:;亚朵:;华住会:",
        ),
        ("电影票", ("2D|IMAX|通兑|3D",), "单人|双人", (29, 99), "万达影城:"),
    ),
    VIRTUAL: (
        (
            "会员",
            ("月卡|季卡|年卡|连续包月",),
            "12个月|1个月|3个月",
            (15, 298),
            "腾讯视频:VIP|SVIP 超级影视;爱奇艺:黄金|白金;优酷:VIP;芒果TV:;网易云音乐:黑胶VIP;"
            "QQ音乐:绿钻豪华版;喜马拉雅:;百度网盘:超级会员;WPS:超级会员;哔哩哔哩:大会员;知乎:盐选",
        ),
        ("话费充值", ("全国|快充",), "100元|50元|200元", (49, 199), "中国移动:;中国联通:;中国电信:"),
        ("流量包", ("全国通用|月包|日包",), "30GB|10GB|100GB", (9.9, 99), "中国移动:;中国联通:;中国电信:"),
        ("充值卡", ("钱包|礼品卡",), "100元|200元|500元", (99, 499), "Steam:;苹果:App Store"),
        ("课程", ("职场|英语口语|理财|Python|写作",), "年度|30讲|训练营", (29, 399), "得到:;喜马拉雅:;知乎:"),
    ),
}

# Books: (title, author, publisher).
_BOOKS = (
    ("三体", "刘慈欣", "重庆出版社"),
    ("活着", "余华", "作家出版社"),
    ("百年孤独", "马尔克斯", "南海出版公司"),
    ("红楼梦", "曹雪芹", "人民文学出版社"),
    ("围城", "钱锺书", "人民文学出版社"),
    ("小王子", "圣埃克苏佩里", "人民文学出版社"),
    ("平凡的世界", "路遥", "北京十月文艺出版社"),
    ("明朝那些事儿", "当年明月", "天津人民出版社"),
    ("人类简史", "赫拉利", "中信出版社"),
    ("原则", "瑞·达利欧", "中信出版社"),
)
_BOOK_EDITIONS = ("经典名著|精装|平装|典藏版|新版", "全集|单册|套装")

# Category weights in the demo catalog (a platform sells more beauty and food than books).
_CATEGORY_WEIGHTS = {
    "美妆个护": 14, "家庭清洁": 6, "食品饮料": 13, "服饰鞋包": 11, "家居日用": 7,
    "数码家电": 10, "母婴用品": 7, "运动户外": 6, "珠宝配饰": 5, "宠物用品": 5,
    "图书文具": 5, CROSS_BORDER: 5, LOCAL_LIFE: 4, VIRTUAL: 4,
}  # fmt: skip
CATEGORIES: tuple[str, ...] = tuple(_CATEGORY_WEIGHTS)

# Shops: brand flagships (brand → name, code), category shops, big multi-category sellers, grey sellers.
_FLAGSHIPS = {
    "欧莱雅": ("欧莱雅官方旗舰店", "LRL"),
    "兰蔻": ("兰蔻官方旗舰店", "LKO"),
    "珀莱雅": ("珀莱雅官方旗舰店", "PLY"),
    "云南白药": ("云南白药官方旗舰店", "YNBY"),
    "飞利浦": ("飞利浦官方旗舰店", "PHL"),
    "蓝月亮": ("蓝月亮官方旗舰店", "LYL"),
    "三只松鼠": ("三只松鼠旗舰店", "SZSS"),
    "农夫山泉": ("农夫山泉官方旗舰店", "NFSQ"),
    "耐克": ("Nike官方旗舰店", "NIKE"),
    "李宁": ("李宁官方旗舰店", "LN"),
    "戴森": ("戴森官方旗舰店", "DYSN"),
    "华为": ("华为官方旗舰店", "HW"),
    "小米": ("小米官方旗舰店", "MI"),
    "苹果": ("Apple Store 官方旗舰店", "APPL"),
    "飞鹤": ("飞鹤官方旗舰店", "FH"),
    "迪卡侬": ("迪卡侬官方旗舰店", "DKL"),
    "周大福": ("周大福官方旗舰店", "CTF"),
    "皇家": ("皇家宠物食品旗舰店", "RC"),
    "晨光": ("晨光文具旗舰店", "MG"),
    "斯维诗": ("Swisse海外旗舰店", "SWS"),
    "海底捞": ("海底捞官方", "HDL"),
    "腾讯视频": ("腾讯视频官方", "TXSP"),
}
_CATEGORY_SHOPS = {
    "美妆个护": (("小美美妆严选", "XMMZ"), ("颜究所美妆集合店", "YJS")),
    "家庭清洁": (("洁净之家日化店", "JJZJ"),),
    "食品饮料": (("好味零食铺", "HWLS"), ("鲜果时光", "XGSG")),
    "服饰鞋包": (("潮流服饰馆", "CLFS"), ("步步高运动鞋城", "BBG")),
    "家居日用": (("优品家居生活馆", "YPJJ"),),
    "数码家电": (("星河数码专营店", "XHSM"), ("家电大卖场", "JDMC")),
    "母婴用品": (("宝贝计划母婴店", "BBJH"),),
    "运动户外": (("悦动运动户外专营店", "YDYD"),),
    "珠宝配饰": (("金玉满堂珠宝", "JYMT"),),
    "宠物用品": (("萌宠物语宠物店", "MCWY"),),
    "图书文具": (("书香文具图书专营店", "SXWJ"),),
    CROSS_BORDER: (("全球购海外旗舰店", "QQG"), ("环球优选跨境店", "HQYX")),
    LOCAL_LIFE: (("同城生活服务商", "TCSH"), ("城市玩家本地优惠", "CSWJ")),
    VIRTUAL: (("数字权益充值中心", "SZQY"), ("卡券优选", "KQYX")),
}
_BIG_SELLERS = (("东方甄选", "DFZX"), ("交个朋友直播间", "JGPY"), ("遥望优选", "YWYX"))
_GREY_SELLERS = (("源头好货批发店", "YTHH"), ("尾货清仓特卖", "WHQC"))
_NO_BIG_SELLERS = {LOCAL_LIFE, VIRTUAL}

_EPOCH = date(2025, 1, 6)
_LISTING_DAYS = 330
_NEW_DAYS = 30


@dataclass(frozen=True, slots=True)
class _Brand:
    field: str  # the catalog's brand value, e.g. "Dyson/戴森"
    forms: tuple[str, ...]  # how titles write it
    weights: tuple[float, ...]
    awareness: float


@dataclass(frozen=True, slots=True)
class _Template:
    category: str
    noun: str
    brand_key: str
    brand: _Brand
    series: tuple[str, ...]
    attrs: tuple[tuple[str, ...], ...]
    specs: tuple[str, ...]
    price: tuple[float, float]
    book: bool = False


def _has_han(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@lru_cache(maxsize=1)
def _brands() -> dict[str, _Brand]:
    """Brand key (its Chinese name when it has one) → brand."""
    out: dict[str, _Brand] = {}
    for entry in _BRANDS.replace("\n", " ").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        name, awareness = entry.rsplit(" ", 1)
        parts = name.split("/")
        han = [p for p in parts if _has_han(p)]
        key = han[0] if han else parts[0]
        forms: tuple[str, ...]
        weights: tuple[float, ...]
        if len(parts) == 2 and parts[0] != key:  # a foreign brand: "Dyson 戴森", "戴森", "Dyson"
            forms, weights = (f"{parts[0]} {parts[1]}", key, parts[0]), (0.45, 0.35, 0.2)
        elif len(parts) == 2:  # a Chinese brand with a Latin name: mostly written in Chinese
            forms, weights = (f"{parts[0]} {parts[1]}", key), (0.3, 0.7)
        else:
            forms, weights = (name,), (1.0,)
        out[key] = _Brand(name, forms, weights, float(awareness))
    return out


@lru_cache(maxsize=1)
def _templates() -> dict[str, tuple[_Template, ...]]:
    brands = _brands()
    out: dict[str, list[_Template]] = {c: [] for c in CATEGORIES}
    for category, lines in _LINES.items():
        for noun, attrs, specs, price, brand_spec in lines:
            for part in brand_spec.split(";"):
                key, _, series = part.partition(":")
                series_t = tuple(s for s in series.split("|")) if series else ("",)
                out[category].append(
                    _Template(
                        category,
                        noun,
                        key.strip(),
                        brands[key.strip()],
                        series_t,
                        tuple(tuple(a.split("|")) for a in attrs),
                        tuple(specs.split("|")),
                        price,
                    )
                )
    for book, author, publisher in _BOOKS:
        out["图书文具"].append(
            _Template(
                "图书文具",
                book,
                publisher,
                brands[publisher],
                (author,),
                tuple(tuple(a.split("|")) for a in _BOOK_EDITIONS),
                ("",),
                (19.8, 168),
                book=True,
            )
        )
    return {c: tuple(ts) for c, ts in out.items()}


def _title(rng: random.Random, t: _Template) -> str:
    brand = rng.choices(t.brand.forms, t.brand.weights)[0]
    if t.book:  # 书名 作者 版本 出版社
        edition = " ".join(rng.choice(group) for group in t.attrs if rng.random() < 0.8)
        return " ".join(p for p in (t.noun, t.series[0], edition, brand) if p)
    parts = [brand, rng.choice(t.series)]
    for group in t.attrs:
        if rng.random() < 0.85:
            parts.append(rng.choice(group))
    parts.append(t.noun)
    if rng.random() < 0.9:
        parts.append(rng.choice(t.specs))
    return " ".join(p for p in parts if p)


def _price(rng: random.Random, lo: float, hi: float) -> float:
    # log-uniform, ending in .9 like shelf prices
    p = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return round(max(0.9, round(p) - 0.1), 2) if p >= 10 else round(p, 1)


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _indicators(rng: random.Random, q: float, awareness: float, flagship: bool, counterfeit: bool) -> dict:
    """The 11 indicators and the gate flags of a product of latent quality q (0–1)."""
    g = rng.gauss
    if counterfeit:
        q = min(q, 0.35)
    return {
        "brand_authorized": 0 if counterfeit else int(flagship or rng.random() < 0.25 + 0.7 * q),
        "brand_awareness": round(_clip(awareness * (0.55 + 0.5 * q) + g(0, 6), 0, 100), 1),
        "price_index": round(_clip(1.45 - 0.8 * q + g(0, 0.08), 0.55, 2.2), 2),
        "lowest_price_ratio": round(_clip(1.32 - 0.4 * q + g(0, 0.04), 0.88, 1.6), 3),
        "commission_rate": round(_clip(0.03 + 0.34 * q + g(0, 0.035), 0.01, 0.5), 3),
        "active_streamers_30d": int(_clip(math.exp(q * 6.8 + g(0, 0.45)) - 1, 0, 5000)),
        "shop_rating": round(_clip(3.2 + 1.85 * q + g(0, 0.1), 2.5, 5.0), 2),
        "refund_rate": round(_clip(0.3 - 0.3 * q + g(0, 0.015), 0.002, 0.45), 3),
        "dispute_rate": round(_clip(0.07 - 0.07 * q + g(0, 0.003), 0.0, 0.12), 4),
        "gmv_30d": round(10 ** _clip(2.6 + 5.0 * q + g(0, 0.3), 1.5, 8.0), 2),
        "conversion_rate": round(_clip(0.002 + 0.11 * q + g(0, 0.008), 0.0005, 0.25), 4),
        "factory_verified": int(not counterfeit and rng.random() < 0.2 + 0.78 * q),
        "counterfeit_flag": int(counterfeit),
    }


def _merchant(rng: random.Random, t: _Template) -> tuple[str, str, bool]:
    roll = rng.random()
    if t.brand_key in _FLAGSHIPS and roll < 0.55:
        name, code = _FLAGSHIPS[t.brand_key]
        return name, code, True
    if t.category not in _NO_BIG_SELLERS and roll > 0.85:
        name, code = rng.choice(_BIG_SELLERS)
        return name, code, False
    name, code = rng.choice(_CATEGORY_SHOPS[t.category])
    return name, code, False


def demo_products(n: int = 3200, seed: int = DEFAULT_SEED) -> list[dict]:
    """`n` product import rows (the product columns of PRODUCT.md), the same for the same seed."""
    rng = random.Random(seed)
    templates = _templates()
    cats = list(_CATEGORY_WEIGHTS)
    weights = [_CATEGORY_WEIGHTS[c] for c in cats]
    brand_bias = {key: rng.gauss(0, 0.08) for key in sorted(_brands())}
    seen_titles: set[str] = set()
    counters: dict[str, int] = {}
    rows: list[dict] = []
    # well-known brands list more products
    popularity = {c: [(t.brand.awareness / 100) ** 5 for t in ts] for c, ts in templates.items()}
    for i in range(n):
        # every category appears early, then by weight
        category = cats[i] if i < len(cats) else rng.choices(cats, weights)[0]
        for _attempt in range(6):
            t = rng.choices(templates[category], popularity[category])[0]
            title = _title(rng, t)
            if title not in seen_titles:
                break
        seen_titles.add(title)
        counterfeit = category not in _NO_BIG_SELLERS and rng.random() < 0.012
        if counterfeit:
            name, code = rng.choice(_GREY_SELLERS)
            flagship = False
        else:
            name, code, flagship = _merchant(rng, t)
        counters[code] = counters.get(code, 0) + 1
        sku = f"{code}-{counters[code]:05d}"
        quality = 0.15 + 0.8 * rng.betavariate(3.0, 2.6) + brand_bias[t.brand_key] + (0.06 if flagship else 0)
        q = _clip(quality, 0, 1)
        listed = _EPOCH + timedelta(days=rng.randrange(_LISTING_DAYS))
        tags: list[str] = []
        if category in (CROSS_BORDER, LOCAL_LIFE, VIRTUAL):
            tags.append(category)
        if rng.random() < 0.12:
            tags.append("官方补贴")
        if (_EPOCH + timedelta(days=_LISTING_DAYS) - listed).days <= _NEW_DAYS:
            tags.append("新品")
        ind = _indicators(rng, q, t.brand.awareness, flagship, counterfeit)
        row = {
            "sku": sku,
            "title": title,
            "brand": t.brand.field,
            "category": category,
            "merchant": name,
            "price": _price(rng, *t.price),
            **ind,
            "image_url": f"https://img.example.com/xuanpin/{sku.lower()}.jpg",
            "tags": ";".join(tags),
            "listed_at": listed.isoformat(),
        }
        rows.append(row)
    return rows


PRODUCT_COLUMNS: tuple[str, ...] = (
    "sku",
    "title",
    "brand",
    "category",
    "merchant",
    "price",
    "brand_authorized",
    "brand_awareness",
    "price_index",
    "lowest_price_ratio",
    "commission_rate",
    "active_streamers_30d",
    "shop_rating",
    "refund_rate",
    "dispute_rate",
    "gmv_30d",
    "conversion_rate",
    "factory_verified",
    "counterfeit_flag",
    "image_url",
    "tags",
    "listed_at",
)
STREAMER_COLUMNS: tuple[str, ...] = ("telegram_id", "name", "category", "gmv_30d")

_NICK_HEADS = (
    "小鹿", "阿珍", "大橙子", "柠檬", "小七", "糖糖", "阿飞", "老王", "晓晓", "果果",
    "安安", "木子", "一一", "琳达", "Coco", "Mia", "Kiki", "Leo", "小雨", "阿杰",
    "大熊", "甜甜", "菲菲", "豆豆", "小满", "阿宝", "胖虎", "念念", "星星", "阿May",
    "小北", "南风", "初夏", "桃子", "可乐", "奶茶", "小鱼", "阿狸", "七七", "乐乐",
)  # fmt: skip
_NICK_TAILS = (
    "的好物分享", "严选", "直播间", "生活馆", "好物推荐", "美妆日记", "的小店", "穿搭",
    "零食铺", "数码说", "带货日常", "优选", "家居好物", "宝妈团", "户外志", "爱种草",
)  # fmt: skip


def demo_streamers(n: int = 240, seed: int = DEFAULT_SEED) -> list[dict]:
    """Streamer rows (`telegram_id, name, category, gmv_30d`), one per streamer and category."""
    rng = random.Random(seed + 1)
    cats = list(_CATEGORY_WEIGHTS)
    weights = [_CATEGORY_WEIGHTS[c] for c in cats]
    rows: list[dict] = []
    names: set[str] = set()
    for i in range(n):
        name = rng.choice(_NICK_HEADS) + rng.choice(_NICK_TAILS)
        while name in names:
            name = f"{name}{rng.randint(2, 99)}"
        names.add(name)
        telegram_id = 700_000_001 + i * 7_919
        kind = ("specialist", "mix", "generalist")[i % 3]
        if kind == "specialist":
            picked = [rng.choices(cats, weights)[0]]
            shares = [rng.uniform(0.75, 1.0)]
            if shares[0] < 0.97:
                other = rng.choice([c for c in cats if c != picked[0]])
                picked.append(other)
                shares.append(1.0 - shares[0])
        else:
            k = rng.randint(2, 3) if kind == "mix" else rng.randint(5, 9)
            picked = []
            while len(picked) < k:
                c = rng.choices(cats, weights)[0]
                if c not in picked:
                    picked.append(c)
            raw = [rng.gammavariate(2.0 if kind == "mix" else 1.2, 1.0) for _ in picked]
            shares = [r / sum(raw) for r in raw]
        total = 10 ** rng.uniform(4.0, 6.8)
        for category, share in zip(picked, shares, strict=True):
            rows.append(
                {
                    "telegram_id": telegram_id,
                    "name": name,
                    "category": category,
                    "gmv_30d": round(total * share, 2),
                }
            )
    return rows


def demo_catalog_items(rows: Iterable[Mapping] | None = None, policy=None) -> list[CatalogItem]:
    """Grade product rows (default: `demo_products()`) into `CatalogItem`s with ids 1..n."""

    policy = policy or default_policy()
    items: list[CatalogItem] = []
    for i, row in enumerate(demo_products() if rows is None else rows, 1):
        raw_tags = row.get("tags") or ""
        tag_list = raw_tags.split(";") if isinstance(raw_tags, str) else raw_tags
        tags = tuple(t.strip() for t in tag_list if t.strip())
        g = grade(Indicators.from_mapping(row), policy, tags=tags)
        commission = row["commission_rate"]
        if isinstance(commission, str):  # "25%" is accepted too
            text = commission.strip()
            commission = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        items.append(
            CatalogItem(
                id=i,
                sku=str(row["sku"]),
                title=str(row["title"]),
                brand=str(row["brand"]),
                category=str(row["category"]),
                merchant=str(row["merchant"]),
                price=float(row["price"]),
                commission_rate=float(commission),
                tier=g.tier,
                score=g.score,
                counterfeit=bool(int(float(row.get("counterfeit_flag", 0) or 0))),
                badges=g.badges,
                tags=tags,
                dimensions=dict(g.dimensions),
            )
        )
    return items


# --------------------------------------------------------------------------- benchmark catalogs

_EXTRA_SPECS = ("2025款", "2024款", "升级款", "家庭装", "组合装", "旗舰款", "礼盒装", "限定版", "加量装", "")
_SHARED_DIMENSIONS: dict[str, float] = {}  # benchmark items carry no dimension scores; one shared empty dict


def generated_catalog(n: int, seed: int = DEFAULT_SEED) -> Iterator[CatalogItem]:
    """`n` synthetic graded items for benchmarks (ids 1..n), streamed; 1M take a few seconds.

    Titles come from the demo vocabulary with pack counts, model years and sizes mixed in, so
    the vocabulary grows with `n` the way a real catalog's does. Tiers come from a quick score
    formula with the default thresholds, not from the grading engine.
    """
    rng = random.Random(seed)
    rand = rng.random
    flat: list[_Template] = []
    for category, ts in _templates().items():
        flat.extend(ts * _CATEGORY_WEIGHTS[category])
    nt = len(flat)
    thresholds = (85.0, 75.0, 65.0, 55.0, 45.0)
    tier_names = tuple(reversed(TIERS[1:]))
    merchants = [m for shops in _CATEGORY_SHOPS.values() for m, _ in shops] + [m for m, _ in _BIG_SELLERS]
    nm = len(merchants)
    tags_for = {c: ((c,) if c in (CROSS_BORDER, LOCAL_LIFE, VIRTUAL) else ()) for c in CATEGORIES}
    empty: tuple[str, ...] = ()
    for i in range(1, n + 1):
        t = flat[int(rand() * nt)]
        forms = t.brand.forms
        parts = [forms[int(rand() * len(forms))], t.series[int(rand() * len(t.series))]]
        for group in t.attrs:
            if rand() < 0.85:
                parts.append(group[int(rand() * len(group))])
        parts.append(t.noun)
        r = rand()
        if r < 0.85:
            parts.append(t.specs[int(rand() * len(t.specs))])
        if r > 0.5:
            parts.append(_EXTRA_SPECS[int(rand() * len(_EXTRA_SPECS))])
        if r > 0.8:
            parts.append(f"×{2 + int(rand() * 11)}")
        if r < 0.2:
            parts.append(f"{int(10 + rand() * 990)}{'g' if r < 0.1 else 'ml'}")
        title = " ".join(p for p in parts if p)
        score = 15.0 + 82.0 * (rand() * 0.6 + rand() * 0.4)
        counterfeit = rand() < 0.01
        if counterfeit:
            tier = "L0"
        else:
            tier = "L0"
            for threshold, name in zip(thresholds, tier_names, strict=True):
                if score >= threshold:
                    tier = name
                    break
        lo, hi = t.price
        yield CatalogItem(
            id=i,
            sku=f"G{i:08d}",
            title=title,
            brand=t.brand.field,
            category=t.category,
            merchant=merchants[int(rand() * nm)],
            price=round(lo + (hi - lo) * rand(), 1),
            commission_rate=round(0.02 + 0.3 * rand(), 3),
            tier=tier,
            score=round(score, 2),
            counterfeit=counterfeit,
            badges=empty,
            tags=tags_for[t.category],
            dimensions=_SHARED_DIMENSIONS,
        )


def product_nouns() -> frozenset[str]:
    """The product nouns the demo vocabulary builds titles around (牙膏, 无线吸尘器, book titles...)."""
    return frozenset(t.noun for ts in _templates().values() for t in ts)


def brand_names(field: str) -> tuple[str, ...]:
    """The names a brand value carries: "Dyson/戴森" → ("Dyson", "戴森")."""
    return tuple(p.strip() for p in field.split("/") if p.strip())


def demo_merchants() -> dict[str, str]:
    """Every demo shop and its short merchant code (also the prefix of its skus)."""
    shops = list(_FLAGSHIPS.values()) + [s for group in _CATEGORY_SHOPS.values() for s in group]
    return dict(shops + list(_BIG_SELLERS) + list(_GREY_SELLERS))
